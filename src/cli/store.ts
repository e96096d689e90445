import { resolve } from 'node:path';
import { InvalidDatabaseUrlError, InvalidStoreLocationError, StoreDirectoryError, StoreError } from '../core/errors.js';
import type { FlowStore } from '../stores/flow-store.js';
import { DEFAULT_STORE_LOCATION, migrateStore, openStore, previewMigrateDown, type OpenStoreOptions } from '../stores/open-store.js';
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

/** `--blob-dir`, else `CHEMFLOW_BLOB_DIR`, else none (see `BlobOptions`). */
export function resolveBlobDirOption(option: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (option !== undefined && option !== '') return option;
  const fromEnv = env.CHEMFLOW_BLOB_DIR;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
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

export interface WithStoreOptions {
  /** When it aborts while the store is still opening, the work never runs and `stop.reason` is thrown. */
  stop?: AbortSignal;
  /**
   * May a new embedded database be created (`run`, `submit`, `worker`)? Commands that read or change
   * existing flows leave it off: a mistyped `--db` directory is an error for them, never a new database.
   */
  create?: boolean;
}

/** Opens the store, runs `work` with it and always closes it (see `WithStoreOptions`). */
export async function withStore<T>(
  target: string | { db: string; store?: FlowStore | undefined; blobDir?: string | undefined },
  work: (store: FlowStore) => Promise<T>,
  options: WithStoreOptions = {},
): Promise<T> {
  // A store the caller opened (a program embedding the CLI, a test) is used as it is, and left open.
  if (typeof target !== 'string' && target.store !== undefined) return work(target.store);
  const location = typeof target === 'string' ? target : target.db;
  const { stop } = options;
  const opening = { create: options.create === true, blobDir: typeof target === 'string' ? undefined : target.blobDir };
  let store: FlowStore;
  try {
    store = await (stop === undefined ? openStore(location, opening) : openUnlessStopped(location, stop, opening));
  } catch (error) {
    if (stop?.aborted === true && error === stop.reason) throw error;
    if (error instanceof StoreDirectoryError) throw storeDirectoryUsage(error);
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
async function openUnlessStopped(location: string, stop: AbortSignal, options: OpenStoreOptions): Promise<FlowStore> {
  stop.throwIfAborted();
  const opening = openStore(location, options);
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

/** Applies or reverts the schema; returns the ids of the migrations that ran. Only `up` creates a database. */
export async function migrate(location: string, direction: 'up' | 'down'): Promise<string[]> {
  try {
    return (await migrateStore(location, direction)).ran;
  } catch (error) {
    throw error instanceof StoreDirectoryError ? storeDirectoryUsage(error) : error;
  }
}

/** What `migrate down` would revert and drop at a location, changing nothing. */
export async function previewDown(location: string): Promise<DownPreview> {
  try {
    return await previewMigrateDown(location);
  } catch (error) {
    throw error instanceof StoreDirectoryError ? storeDirectoryUsage(error) : error;
  }
}

/** A directory that cannot hold the embedded database, said with the absolute path and what to do. */
function storeDirectoryUsage(error: StoreDirectoryError): UsageError {
  const absolute = resolve(error.path);
  const where = absolute === error.path ? '' : ` (${absolute})`;
  switch (error.problem) {
    case 'missing':
    case 'empty':
      return new UsageError(
        `${error.message}${where}. Nothing was created.`,
        'check --db / DATABASE_URL (a relative path starts from the working directory); `chemflow run`, `submit`, `worker` and `migrate` create a new database in a new or empty directory.',
      );
    case 'not_a_store':
      return new UsageError(
        `${error.message}${where}. Nothing was created.`,
        'give --db a new or empty directory for the embedded database (the default is ./.chemflow), or the directory of an existing one.',
      );
    case 'not_a_directory':
      return new UsageError(`${error.message}${where}.`, 'give --db a directory for the embedded database (the default is ./.chemflow).');
  }
}
