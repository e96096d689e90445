import type { SqlExecutor } from './executor.js';
import { run } from './executor.js';
import { appliedMigrationsQuery } from './migration-queries.js';
import { loadMigrations, type Migration } from './migration-files.js';
import { downPlan } from './migrate.js';

/** A table that `migrate down` would drop, and how many rows go with it. */
export interface TableLoss {
  table: string;
  rows: number;
}

/** What `migrate down` would do here: the migrations it would revert and the data it would drop. */
export interface DownPreview {
  migrations: string[];
  tables: TableLoss[];
}

/** `DROP TABLE [IF EXISTS] name` in a down script: the table it removes. */
const DROP_TABLE = /\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)/gi;

/**
 * Reads, without changing anything, what reverting down to `to` (default: everything) would remove.
 * The tables come from the down scripts themselves, so a new migration is covered without a list here.
 */
export async function previewDown(
  executor: SqlExecutor,
  options: { to?: string; migrations?: readonly Migration[] } = {},
): Promise<DownPreview> {
  const present = await run<{ present: boolean }>(executor, tableExistsQuery('chemflow_migrations'));
  if (present[0]?.present !== true) return { migrations: [], tables: [] };
  const applied = new Set((await run<{ id: string }>(executor, appliedMigrationsQuery())).map((row) => row.id));
  const plan = downPlan(options.migrations ?? loadMigrations(), options.to).filter((m) => applied.has(m.id));
  const tables: TableLoss[] = [];
  for (const table of new Set(plan.flatMap((m) => droppedTables(m.down)))) {
    const exists = await run<{ present: boolean }>(executor, tableExistsQuery(table));
    if (exists[0]?.present !== true) continue;
    // The name comes from chemflow's own migration files and matched a plain identifier above.
    const counted = await executor.query<{ rows: string | number }>(`SELECT count(*) AS rows FROM "${table}"`);
    tables.push({ table, rows: Number(counted[0]?.rows ?? 0) });
  }
  return { migrations: plan.map((m) => m.id), tables };
}

function droppedTables(script: string): string[] {
  return [...script.matchAll(DROP_TABLE)].map((match) => (match[1] ?? '').toLowerCase());
}

/** Whether a table of that name is visible on the search path (the store's schema). */
function tableExistsQuery(table: string): { text: string; values: unknown[] } {
  return { text: 'SELECT to_regclass($1) IS NOT NULL AS present', values: [table] };
}
