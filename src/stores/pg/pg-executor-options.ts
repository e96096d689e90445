/**
 * How to reach a PostgreSQL server. Kept apart from `PgExecutor` so the public type declarations never
 * import `pg`: a TypeScript user of chemflow needs no `@types/pg`.
 */
export interface PgExecutorOptions {
  /** `postgres://user:pass@host:port/db`; defaults to `DATABASE_URL`. */
  connectionString?: string;
  /** Schema for every table chemflow touches, set as `search_path` on every pooled connection. */
  schema?: string;
  /** Shown in `pg_stat_activity`, so an operator (or a test) can find chemflow's connections. */
  applicationName?: string;
  /** Pool size. */
  max?: number;
  /** How long to wait for a free or new connection before failing (a transient error). */
  connectionTimeoutMillis?: number;
}
