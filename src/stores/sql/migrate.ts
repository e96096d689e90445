import type { SqlExecutor, SqlRunner } from './executor.js';
import { loadMigrations, type Migration } from './migration-files.js';
import {
  appliedMigrationsQuery,
  forgetMigrationQuery,
  migrationsTablePresentQuery,
  recordMigrationQuery,
} from './migration-queries.js';
import { run } from './executor.js';

export type MigrationDirection = 'up' | 'down';

export interface MigrateOptions {
  /**
   * `up`: the last migration to apply (default: all). `down`: the last migration to keep
   * (default: none, everything is reverted).
   */
  to?: string;
  /** Defaults to the package's `migrations/` folder. */
  migrations?: readonly Migration[];
}

export interface MigrateResult {
  /** Ids applied (up) or reverted (down) by this call, in the order they ran. */
  ran: string[];
}

const BOOTSTRAP = `CREATE TABLE IF NOT EXISTS chemflow_migrations (
  id TEXT PRIMARY KEY,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
)`;

/**
 * Serialises migrators of the same schema (two processes starting at once): the lock is released at
 * COMMIT, and each migrator re-reads what is applied only after taking it.
 */
const LOCK = `SELECT pg_advisory_xact_lock(hashtext('chemflow.migrate.' || current_schema()))`;

/**
 * Applies or reverts migrations, each in its own transaction, recording them in `chemflow_migrations`.
 * Idempotent: applied migrations are skipped, so running it twice changes nothing.
 */
export async function migrate(
  executor: SqlExecutor,
  direction: MigrationDirection,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const migrations = options.migrations ?? loadMigrations();
  if (options.to !== undefined && !migrations.some((m) => m.id === options.to))
    throw new Error(`Unknown migration ${options.to}`);
  const appliedBefore = await executor.transaction(async (tx) => {
    await tx.query(LOCK);
    // CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when the table exists: look first, so
    // an application role without that privilege can open an up-to-date store (docs/security.md).
    const [bootstrap] = await run<{ present: boolean }>(tx, migrationsTablePresentQuery());
    if (bootstrap?.present !== true) await tx.exec(BOOTSTRAP);
    return appliedIds(tx);
  });
  const ran: string[] = [];
  const plan = (direction === 'up' ? upPlan(migrations, options.to) : downPlan(migrations, options.to)).filter(
    // The usual case (opening an up-to-date store) then costs one transaction.
    (m) => appliedBefore.has(m.id) !== (direction === 'up'),
  );
  for (const migration of plan) {
    const done = await executor.transaction(async (tx) => {
      await tx.query(LOCK);
      const applied = await appliedIds(tx);
      if (applied.has(migration.id) === (direction === 'up')) return false; // another process did it
      await tx.exec(direction === 'up' ? migration.up : migration.down);
      await run(tx, direction === 'up' ? recordMigrationQuery(migration.id) : forgetMigrationQuery(migration.id));
      return true;
    });
    if (done) ran.push(migration.id);
  }
  return { ran };
}

function upPlan(migrations: readonly Migration[], to: string | undefined): Migration[] {
  return migrations.filter((m) => to === undefined || m.id <= to);
}

/** The migrations that `down` to `to` reverts (if applied), last first. */
export function downPlan(migrations: readonly Migration[], to: string | undefined): Migration[] {
  return migrations.filter((m) => to === undefined || m.id > to).reverse();
}

async function appliedIds(tx: SqlRunner): Promise<Set<string>> {
  const rows = await run<{ id: string }>(tx, appliedMigrationsQuery());
  return new Set(rows.map((row) => row.id));
}
