import { InvalidDatabaseUrlError, InvalidStoreLocationError } from '../core/errors.js';

/** What a store location names. */
export type StoreLocationKind = 'memory' | 'postgres' | 'pglite-memory' | 'pglite-directory';

const POSTGRES_URL = /^postgres(ql)?:\/\//i;
const PGLITE_IN_MEMORY = new Set(['pglite-memory', 'memory://pglite']);
const ANY_URL = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** Is `location` a PostgreSQL server URL (`postgres://` or `postgresql://`)? */
export function isPostgresUrl(location: string): boolean {
  return POSTGRES_URL.test(location);
}

/**
 * What `location` names. Anything else that looks like a URL throws `InvalidStoreLocationError`: a
 * mistyped scheme (`postgress://`, `mysql://`) would otherwise become a new embedded database in a
 * directory named after it, and the flows would go where no worker looks.
 */
export function storeLocationKind(location: string): StoreLocationKind {
  if (location === 'memory') return 'memory';
  if (PGLITE_IN_MEMORY.has(location)) return 'pglite-memory';
  if (isPostgresUrl(location)) {
    const problem = postgresUrlProblem(location);
    if (problem !== undefined) throw new InvalidDatabaseUrlError(problem);
    return 'postgres';
  }
  const scheme = ANY_URL.exec(location)?.[1] ?? (location.includes('://') ? location.slice(0, location.indexOf('://')) : undefined);
  if (scheme !== undefined) throw new InvalidStoreLocationError(scheme);
  return 'pglite-directory';
}

/** Why a `postgres://` URL cannot be used as given, in words that never repeat it (it may hold a password). */
export function postgresUrlProblem(location: string): string | undefined {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return 'it does not parse as a URL (is the port a number from 0 to 65535? are special characters such as @ : / in the user or password percent-encoded?)';
  }
  // A user, password or database name with a stray "%" is read as written by the driver; a host cannot hold one.
  try {
    decodeURIComponent(url.hostname);
  } catch {
    return 'the host holds a "%" that is not followed by two hex digits';
  }
  return undefined;
}
