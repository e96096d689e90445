export type * from './flow-store.js';
export type * from './step-cache-index.js';
export { MemoryFlowStore } from './memory-store.js';
export {
  DEFAULT_STORE_LOCATION,
  migrateStore,
  openPgliteStore,
  openPostgresStore,
  openStore,
  previewMigrateDown,
  resolveStoreLocation,
} from './open-store.js';
export type { DownPreview, TableLoss } from './sql/down-preview.js';
export type { PgExecutorOptions } from './pg/pg-executor-options.js';
export type { SqlExecutor, SqlQuery, SqlRunner } from './sql/executor.js';
export type { MigrateOptions, MigrateResult, MigrationDirection } from './sql/migrate.js';
export { PgArtifactStore } from './sql/pg-artifact-store.js';
export { insertStepExecutionError, PgErrorStore } from './sql/pg-error-store.js';
export { PgEventStore } from './sql/pg-event-store.js';
export { PgFlowRepository } from './sql/pg-flow-repository.js';
export { SqlFlowStore } from './sql/sql-flow-store.js';
