import type { SqlQuery } from './executor.js';

export function appliedMigrationsQuery(): SqlQuery {
  return { text: 'SELECT id FROM chemflow_migrations ORDER BY id', values: [] };
}

export function recordMigrationQuery(id: string): SqlQuery {
  return { text: 'INSERT INTO chemflow_migrations (id) VALUES ($1)', values: [id] };
}

export function forgetMigrationQuery(id: string): SqlQuery {
  return { text: 'DELETE FROM chemflow_migrations WHERE id = $1', values: [id] };
}

/** Whether `chemflow_migrations` exists in the current schema (search_path), without needing CREATE. */
export function migrationsTablePresentQuery(): SqlQuery {
  return { text: `SELECT to_regclass('chemflow_migrations') IS NOT NULL AS present`, values: [] };
}
