import { existsSync, mkdirSync } from 'node:fs';
import type { FlowStore } from './flow-store.js';
import { MemoryFlowStore } from './memory-store.js';
import { PgExecutor } from './pg/pg-executor.js';
import type { PgExecutorOptions } from './pg/pg-executor-options.js';
import { PgliteExecutor } from './pglite/pglite-executor.js';
import { previewDown, type DownPreview } from './sql/down-preview.js';
import type { SqlExecutor } from './sql/executor.js';
import { migrate, type MigrateOptions, type MigrateResult, type MigrationDirection } from './sql/migrate.js';
import { SqlFlowStore } from './sql/sql-flow-store.js';
import { withRetry } from './sql/transient.js';
import { storeLocationKind } from './store-location.js';

/** The embedded database directory used when neither a location nor `DATABASE_URL` is given. */
export const DEFAULT_STORE_LOCATION = './.chemflow';

/** A store location: given, else `DATABASE_URL`, else `./.chemflow`. */
export function resolveStoreLocation(location?: string): string {
  if (location !== undefined && location !== '') return location;
  const fromEnv = process.env.DATABASE_URL;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_STORE_LOCATION;
}

/**
 * Opens a store by location: a `postgres://` URL is a PostgreSQL server (a pool), `memory` the
 * in-memory store, `pglite-memory` an in-memory PGlite, a URL of any other scheme is rejected
 * (`InvalidStoreLocationError`, nothing created), anything else a directory for the embedded
 * file-backed PGlite (created if missing). Database stores are migrated up on opening.
 */
export async function openStore(location?: string): Promise<FlowStore> {
  const resolved = resolveStoreLocation(location);
  if (storeLocationKind(resolved) === 'memory') return new MemoryFlowStore();
  return SqlFlowStore.open(await openExecutor(resolved));
}

/** A PostgreSQL server store, e.g. in a given schema. */
export async function openPostgresStore(options: PgExecutorOptions): Promise<SqlFlowStore> {
  return SqlFlowStore.open(new PgExecutor(options));
}

/** An embedded PGlite store, file-backed in `dataDir` or in memory when it is undefined. */
export async function openPgliteStore(dataDir?: string): Promise<SqlFlowStore> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  return SqlFlowStore.open(await PgliteExecutor.open(dataDir));
}

/** `chemflow migrate up|down`: applies or reverts the schema at a location (a no-op for `memory`). */
export async function migrateStore(
  location: string | undefined,
  direction: MigrationDirection,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const resolved = resolveStoreLocation(location);
  if (storeLocationKind(resolved) === 'memory') return { ran: [] };
  const executor = await openExecutor(resolved);
  try {
    return await withRetry(`migrate ${direction}`, () => migrate(executor, direction, options));
  } finally {
    await executor.close();
  }
}

/**
 * What `migrateStore(location, 'down')` would revert and drop (tables and row counts), changing
 * nothing: an embedded database directory that does not exist yet is not created.
 */
export async function previewMigrateDown(location: string | undefined, options: { to?: string } = {}): Promise<DownPreview> {
  const resolved = resolveStoreLocation(location);
  const kind = storeLocationKind(resolved);
  if (kind === 'memory' || kind === 'pglite-memory' || (kind === 'pglite-directory' && !existsSync(resolved)))
    return { migrations: [], tables: [] };
  const executor = await openExecutor(resolved);
  try {
    return await withRetry('read what migrate down would remove', () => previewDown(executor, options));
  } finally {
    await executor.close();
  }
}

async function openExecutor(location: string): Promise<SqlExecutor> {
  switch (storeLocationKind(location)) {
    case 'postgres':
      return new PgExecutor({ connectionString: location });
    case 'pglite-memory':
      return PgliteExecutor.open();
    case 'memory':
      throw new Error('the memory store is not a SQL database'); // callers return a MemoryFlowStore first
    case 'pglite-directory':
      mkdirSync(location, { recursive: true });
      return PgliteExecutor.open(location);
  }
}
