import { InvalidStoreLocationError, StoreError } from '../core/errors.js';
import type { FlowStore } from '../stores/flow-store.js';
import { DEFAULT_STORE_LOCATION, migrateStore, openStore, previewMigrateDown } from '../stores/open-store.js';
import type { DownPreview } from '../stores/sql/down-preview.js';
import { storeLocationKind } from '../stores/store-location.js';
import { UsageError } from './cli-error.js';

/**
 * `--db`, else `DATABASE_URL`, else `./.chemflow`; checked before any command does anything, so a
 * mistyped URL scheme is a usage error and never a new embedded database.
 */
export function resolveDbLocation(option: string | undefined, env: NodeJS.ProcessEnv): string {
  const fromEnv = env.DATABASE_URL;
  const location =
    option !== undefined && option !== '' ? option : fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_STORE_LOCATION;
  try {
    storeLocationKind(location);
  } catch (error) {
    if (!(error instanceof InvalidStoreLocationError)) throw error;
    const source = option !== undefined && option !== '' ? '--db' : 'DATABASE_URL';
    throw new UsageError(
      `${source}: unsupported database URL scheme "${error.scheme}://"`,
      `give ${source} ${InvalidStoreLocationError.accepted}. Nothing was created.`,
    );
  }
  return location;
}

/** A location fit for messages: a URL loses its password. */
export function describeLocation(location: string): string {
  if (!location.includes('://')) return location;
  try {
    const url = new URL(location);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return 'the database URL given';
  }
}

/** Opens the store, runs `work` with it and always closes it. */
export async function withStore<T>(location: string, work: (store: FlowStore) => Promise<T>): Promise<T> {
  let store: FlowStore;
  try {
    store = await openStore(location);
  } catch (error) {
    // The database failed (unreachable, connection lost): its own exit code, not a usage error.
    if (error instanceof StoreError)
      throw new StoreError(`open the database at ${describeLocation(location)}`, error.message, { cause: error });
    throw new UsageError(
      `Cannot open the database at ${describeLocation(location)}: ${(error as Error).message}`,
      'check --db or DATABASE_URL (a postgres:// URL or a directory for the embedded database)',
    );
  }
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Applies or reverts the schema; returns the ids of the migrations that ran. */
export async function migrate(location: string, direction: 'up' | 'down'): Promise<string[]> {
  return (await migrateStore(location, direction)).ran;
}

/** What `migrate down` would revert and drop at a location, changing nothing. */
export function previewDown(location: string): Promise<DownPreview> {
  return previewMigrateDown(location);
}
