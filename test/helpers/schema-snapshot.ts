// The shape of chemflow's schema as the catalogue sees it: used to show that up, down, up again
// (or migrating twice) leaves exactly the same tables, columns, constraints, indexes and triggers.
import type { SqlRunner } from '../../src/stores/sql/executor.js';

export interface SchemaSnapshot {
  columns: string[];
  constraints: string[];
  indexes: string[];
  triggers: string[];
  migrations: string[];
}

export async function schemaSnapshot(db: SqlRunner): Promise<SchemaSnapshot> {
  const lines = async (text: string): Promise<string[]> =>
    (await db.query<{ line: string }>(text)).map((row) => row.line);
  return {
    columns: await lines(`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
        || ' ' || coalesce(column_default, '-') AS line
      FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`),
    constraints: await lines(`SELECT c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid) AS line
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE n.nspname = current_schema() ORDER BY 1`),
    indexes: await lines(`SELECT indexname || ' ' || indexdef AS line FROM pg_indexes
      WHERE schemaname = current_schema() ORDER BY indexname`),
    triggers: await lines(`SELECT event_object_table || ' ' || trigger_name || ' ' || action_timing || ' '
        || event_manipulation || ' ' || action_statement AS line
      FROM information_schema.triggers WHERE trigger_schema = current_schema() ORDER BY 1`),
    migrations: await lines(`SELECT id AS line FROM chemflow_migrations ORDER BY id`),
  };
}

/** The tables chemflow owns in the current schema. */
export async function chemflowTables(db: SqlRunner): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
  );
  return rows.map((row) => row.table_name);
}
