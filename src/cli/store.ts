import { InvalidDatabaseUrlError, InvalidStoreLocationError, StoreError } from '../core/errors.js';
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
    const source = option !== undefined && option !== '' ? '--db' : 'DATABASE_URL';
    if (error instanceof InvalidDatabaseUrlError)
      throw new UsageError(`${source}: ${error.message}`, `give ${source} as postgres://user:password@host:5432/database. Nothing was created.`);
    if (!(error instanceof InvalidStoreLocationError)) throw error;
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

/**
 * Opens the store, runs `work` with it and always closes it. When `stop` aborts while the store is
 * still opening, `work` never runs and `stop.reason` is thrown (see `openUnlessStopped`).
 */
export async function withStore<T>(
  target: string | { db: string; store?: FlowStore | undefined },
  work: (store: FlowStore) => Promise<T>,
  stop?: AbortSignal,
): Promise<T> {
  // A store the caller opened (a program embedding the CLI, a test) is used as it is, and left open.
  if (typeof target !== 'string' && target.store !== undefined) return work(target.store);
  const location = typeof target === 'string' ? target : target.db;
  let store: FlowStore;
  try {
    store = await (stop === undefined ? openStore(location) : openUnlessStopped(location, stop));
  } catch (error) {
    if (stop?.aborted === true && error === stop.reason) throw error;
    // The database failed (unreachable, refused the role, ...): reported by its kind, not as a usage error.
    if (error instanceof StoreError)
      throw new StoreError(`open the database at ${describeLocation(location)}`, error.message, {
        cause: error,
        failure: error.failure,
        sqlState: error.sqlState,
      });
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

/**
 * Opens a store unless `stop` aborts first, then throws `stop.reason`. A PostgreSQL server store is
 * abandoned at once (the server rolls back a half-done migration when the process leaves); an embedded
 * one is left to finish opening and is closed, since its first start creates the database directory and
 * cut short there, the directory would be left unusable.
 */
async function openUnlessStopped(location: string, stop: AbortSignal): Promise<FlowStore> {
  stop.throwIfAborted();
  const opening = openStore(location);
  if (storeLocationKind(location) !== 'postgres') {
    const store = await opening;
    if (!stop.aborted) return store;
    await store.close();
    throw stop.reason;
  }
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(stop.reason as Error);
    stop.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([opening, stopped]);
  } catch (error) {
    // Abandoned: whatever the open comes to later is closed, so nothing is left holding a connection.
    if (stop.aborted) opening.then((store) => store.close(), () => undefined).catch(() => undefined);
    throw error;
  } finally {
    if (onAbort !== undefined) stop.removeEventListener('abort', onAbort);
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
