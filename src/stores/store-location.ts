import { InvalidStoreLocationError } from '../core/errors.js';

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
  if (isPostgresUrl(location)) return 'postgres';
  const scheme = ANY_URL.exec(location)?.[1] ?? (location.includes('://') ? location.slice(0, location.indexOf('://')) : undefined);
  if (scheme !== undefined) throw new InvalidStoreLocationError(scheme);
  return 'pglite-directory';
}
