export type * from './flow-store.js';
export type * from './work-queue.js';
export type * from './step-cache-index.js';
export { MemoryFlowStore } from './memory-store.js';
export type { BlobStore } from './blobs/blob-store.js';
export { FsBlobStore } from './blobs/fs-blob-store.js';
export { MemoryBlobStore } from './blobs/memory-blob-store.js';
export { collectGarbage, DEFAULT_GARBAGE_MIN_AGE_MS, type GarbageOptions, type GarbageReport } from './collect-garbage.js';
export {
  DEFAULT_STORE_LOCATION,
  migrateStore,
  openPgliteStore,
  openPostgresStore,
  openStore,
  previewMigrateDown,
  resolveBlobDir,
  resolveStoreLocation,
  type BlobOptions,
  type OpenStoreOptions,
} from './open-store.js';
export type { DownPreview, TableLoss } from './sql/down-preview.js';
export type { PgExecutorOptions } from './pg/pg-executor-options.js';
export type { SqlExecutor, SqlQuery, SqlRunner } from './sql/executor.js';
export type { MigrateOptions, MigrateResult, MigrationDirection } from './sql/migrate.js';
export { SqlFlowStore } from './sql/sql-flow-store.js';
