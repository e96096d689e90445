import { join } from 'node:path';
import { StoreDirectoryError } from '../core/errors.js';
import type { BlobStore } from './blobs/blob-store.js';
import { FsBlobStore } from './blobs/fs-blob-store.js';
import { MemoryBlobStore } from './blobs/memory-blob-store.js';
import type { FlowStore } from './flow-store.js';
import { MemoryFlowStore } from './memory-store.js';
import type { PgExecutorOptions } from './pg/pg-executor-options.js';
import { claimDataDir } from './pglite/data-dir.js';
import { previewDown, type DownPreview } from './sql/down-preview.js';
import type { SqlExecutor } from './sql/executor.js';
import { migrate, type MigrateOptions, type MigrateResult, type MigrationDirection } from './sql/migrate.js';
import { SqlFlowStore } from './sql/sql-flow-store.js';
import { withRetry } from './sql/transient.js';
import { storeLocationKind } from './store-location.js';

/**
 * Each database driver is loaded when a store of its kind is opened, not with this module: a command
 * on the embedded database does not load `pg`, one on a server does not load PGlite (each is about a
 * tenth of a second of every CLI start-up).
 */
const loadPg = async (options: PgExecutorOptions): Promise<SqlExecutor> => new (await import('./pg/pg-executor.js')).PgExecutor(options);
const loadPglite = async (dataDir?: string): Promise<SqlExecutor> => (await import('./pglite/pglite-executor.js')).PgliteExecutor.open(dataDir);

/** The embedded database directory used when neither a location nor `DATABASE_URL` is given. */
export const DEFAULT_STORE_LOCATION = './.chemflow';

/** A store location: given, else `DATABASE_URL`, else `./.chemflow`. */
export function resolveStoreLocation(location?: string): string {
  if (location !== undefined && location !== '') return location;
  const fromEnv = process.env.DATABASE_URL;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_STORE_LOCATION;
}

/**
 * The blob directory: given, else `CHEMFLOW_BLOB_DIR`, else none (each store's own place: the embedded
 * database's `blobs/`, memory, or a PostgreSQL server's `artifact_chunks` table).
 */
export function resolveBlobDir(given?: string): string | undefined {
  if (given !== undefined && given !== '') return given;
  const fromEnv = process.env.CHEMFLOW_BLOB_DIR;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
}

export interface BlobOptions {
  /**
   * A directory for the bytes of batch chunks and file artifacts (`--blob-dir`), shared by every worker
   * of the store. Without one: an embedded database keeps them in its own `blobs/` directory, the memory
   * stores in memory, and a PostgreSQL server keeps batch chunks in its `artifact_chunks` table and
   * refuses file artifacts (`BLOB_DIR_REQUIRED`).
   */
  blobDir?: string;
}

export interface OpenStoreOptions extends BlobOptions {
  /**
   * May an embedded database be created (in a directory that does not exist yet or is empty)? Default
   * true; a caller that only reads passes false and gets `StoreDirectoryError` where there is none.
   */
  create?: boolean;
}

/**
 * Opens a store by location: a `postgres://` URL is a PostgreSQL server (a pool), `memory` the
 * in-memory store, `pglite-memory` an in-memory PGlite, a URL of any other scheme is rejected
 * (`InvalidStoreLocationError`, nothing created), anything else a directory for the embedded
 * file-backed PGlite: an existing chemflow database, or a new one in a new or empty directory
 * (`StoreDirectoryError` for a directory holding anything else; see `claimDataDir`). Database stores
 * are migrated up on opening.
 */
export async function openStore(location?: string, options: OpenStoreOptions = {}): Promise<FlowStore> {
  const resolved = resolveStoreLocation(location);
  const blobOptions = { blobDir: resolveBlobDir(options.blobDir) };
  switch (storeLocationKind(resolved)) {
    case 'memory':
      return new MemoryFlowStore(blobDir(blobOptions) ?? new MemoryBlobStore());
    case 'postgres':
      return openPostgresStore({ connectionString: resolved }, blobOptions);
    case 'pglite-memory':
      return openPgliteStore(undefined, blobOptions);
    case 'pglite-directory':
      return openPgliteStore(resolved, { ...blobOptions, create: options.create ?? true });
  }
}

/**
 * A PostgreSQL server store, e.g. in a given schema; blobs in `blobDir` when given (not read from the
 * environment here: `openStore` does that), else batch chunks in the `artifact_chunks` table.
 */
export async function openPostgresStore(options: PgExecutorOptions, blobOptions: BlobOptions = {}): Promise<SqlFlowStore> {
  return SqlFlowStore.open(await loadPg(options), blobDir(blobOptions));
}

/**
 * An embedded PGlite store, file-backed in `dataDir` (as `openStore` takes a directory), its blobs in
 * `<dataDir>/blobs`, or in memory with its blobs when `dataDir` is undefined; `blobDir` overrides both.
 */
export async function openPgliteStore(dataDir?: string, options: OpenStoreOptions = {}): Promise<SqlFlowStore> {
  if (dataDir !== undefined) claimDataDir(dataDir, { create: options.create ?? true });
  const blobs = blobDir(options) ?? (dataDir === undefined ? new MemoryBlobStore() : new FsBlobStore(join(dataDir, BLOBS_DIRECTORY)));
  return SqlFlowStore.open(await loadPglite(dataDir), blobs);
}

/** The embedded database's blob directory, inside its data directory (`.chemflow/blobs`). */
export const BLOBS_DIRECTORY = 'blobs';

function blobDir(options: BlobOptions): BlobStore | undefined {
  return options.blobDir === undefined ? undefined : new FsBlobStore(options.blobDir);
}

/**
 * `chemflow migrate up|down`: applies or reverts the schema at a location (a no-op for `memory`). Only
 * `up` creates an embedded database; `down` where there is none throws `StoreDirectoryError`.
 */
export async function migrateStore(
  location: string | undefined,
  direction: MigrationDirection,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const resolved = resolveStoreLocation(location);
  if (storeLocationKind(resolved) === 'memory') return { ran: [] };
  const executor = await openExecutor(resolved, direction === 'up');
  try {
    return await withRetry(`migrate ${direction}`, () => migrate(executor, direction, options));
  } finally {
    await executor.close();
  }
}

/**
 * What `migrateStore(location, 'down')` would revert and drop (tables and row counts), changing
 * nothing: no embedded database is created to find out.
 */
export async function previewMigrateDown(location: string | undefined, options: { to?: string } = {}): Promise<DownPreview> {
  const resolved = resolveStoreLocation(location);
  const kind = storeLocationKind(resolved);
  if (kind === 'memory' || kind === 'pglite-memory') return { migrations: [], tables: [] };
  let executor: SqlExecutor;
  try {
    executor = await openExecutor(resolved, false);
  } catch (error) {
    // No embedded database there (yet): nothing to revert, and none is created to find that out.
    if (error instanceof StoreDirectoryError && (error.problem === 'missing' || error.problem === 'empty'))
      return { migrations: [], tables: [] };
    throw error;
  }
  try {
    return await withRetry('read what migrate down would remove', () => previewDown(executor, options));
  } finally {
    await executor.close();
  }
}

async function openExecutor(location: string, create: boolean): Promise<SqlExecutor> {
  switch (storeLocationKind(location)) {
    case 'postgres':
      return loadPg({ connectionString: location });
    case 'pglite-memory':
      return loadPglite();
    case 'memory':
      throw new Error('the memory store is not a SQL database'); // callers return a MemoryFlowStore first
    case 'pglite-directory':
      claimDataDir(location, { create });
      return loadPglite(location);
  }
}
