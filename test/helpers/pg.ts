// PostgreSQL for integration tests: one fresh, uniquely named schema per test file (or test),
// dropped afterwards, so suites never fight over tables and can run twice in a row on one server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore } from '../../src/stores/open-store.js';
import { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';

import { TEST_PG_URL } from './pg-url.js';

export { TEST_PG_URL };

async function probe(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (error) {
    const reason = `PostgreSQL is not reachable at ${TEST_PG_URL}: ${(error as Error).message}`;
    // On CI a missing database is a broken pipeline, never a silent green run.
    if (process.env.CI) throw new Error(`${reason} (CI is set, so the integration tests cannot be skipped)`, { cause: error });
    console.warn(`\n[chemflow] SKIPPING PostgreSQL integration tests: ${reason}\n`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether the integration tests can run (probed once per test file). */
export const pgAvailable: boolean = await probe();

/** An administrative connection for raw SQL in tests (outside chemflow's code paths). */
export async function adminQuery<Row extends object = Record<string, unknown>>(
  text: string,
  values: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as Row[];
  } finally {
    await client.end();
  }
}

export interface TestSchema {
  name: string;
  /** A chemflow executor whose connections use this schema. */
  executor(options?: { applicationName?: string }): PgExecutor;
  /** A migrated chemflow store in this schema. */
  openStore(options?: { applicationName?: string }): Promise<SqlFlowStore>;
  drop(): Promise<void>;
}

/** Creates `cf_<label>_<random>`; call `drop()` in `afterAll`/`afterEach`. */
export async function createTestSchema(label: string): Promise<TestSchema> {
  const name = `cf_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(5).toString('hex')}`;
  await adminQuery(`CREATE SCHEMA ${name}`);
  return {
    name,
    executor: (options = {}) => new PgExecutor({ connectionString: TEST_PG_URL, schema: name, ...options }),
    openStore: (options = {}) => openPostgresStore({ connectionString: TEST_PG_URL, schema: name, ...options }),
    drop: async () => {
      await adminQuery(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    },
  };
}
