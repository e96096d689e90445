// PostgreSQL for integration tests: one fresh, uniquely named schema per test file (or test),
// dropped afterwards, so suites never fight over tables and can run twice in a row on one server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore } from '../../src/stores/open-store.js';
import { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { afterEach, beforeEach, describe } from 'vitest';
import { isCi } from './ci.js';
import { pgVerdict, TEST_PG_URL, urlForSchema } from './pg-url.js';

export { pgVerdict, TEST_PG_URL, urlForSchema };

/** Connects once; a generous timeout, so a server slowed by a loaded machine is not taken for a missing one. */
async function probe(): Promise<Error | null> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    await client.end().catch(() => undefined);
  }
}

const verdict = pgVerdict(await probe(), isCi());
if (verdict.skipReason !== null) console.warn(`\n[chemflow] SKIPPING the PostgreSQL tests of this file: ${verdict.skipReason}\n`);

/** Whether the PostgreSQL tests can run (probed once per test file). */
export const pgAvailable: boolean = verdict.available;
/** Why they cannot, when they cannot. */
export const pgSkipReason: string | null = verdict.skipReason;

/** `describe` for a suite that needs the server: when it is away, skipped with the reason in its title. */
export function describeWithPg(name: string, body: () => void): void {
  describe.skipIf(!pgAvailable)(pgSkipReason === null ? name : `${name} — SKIPPED: ${pgSkipReason}`, body);
}

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
  /** The server's URL with this schema as `search_path`: what the CLI takes as `--db` or `DATABASE_URL`. */
  url: string;
  /** A chemflow executor whose connections use this schema. */
  executor(options?: { applicationName?: string }): PgExecutor;
  /** A migrated chemflow store in this schema; its blobs in `blobDir` when given, else in the database. */
  openStore(options?: { applicationName?: string; blobDir?: string; max?: number }): Promise<SqlFlowStore>;
  drop(): Promise<void>;
}

/** Creates `cf_<label>_<random>`; call `drop()` in `afterAll`/`afterEach`. */
export async function createTestSchema(label: string): Promise<TestSchema> {
  const name = `cf_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(5).toString('hex')}`;
  await adminQuery(`CREATE SCHEMA ${name}`);
  return {
    name,
    url: urlForSchema(name),
    executor: (options = {}) => new PgExecutor({ connectionString: TEST_PG_URL, schema: name, ...options }),
    openStore: ({ blobDir, ...options } = {}) => openPostgresStore({ connectionString: TEST_PG_URL, schema: name, ...options }, { blobDir }),
    drop: async () => {
      await adminQuery(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    },
  };
}

/** A schema of its own for each test of the suite, with a chemflow store and a plain client on it for raw SQL. */
export interface SchemaWithClient {
  schema: TestSchema;
  store: SqlFlowStore;
  client: pg.Client;
}

/** Registers the hooks that give each test of the calling suite a fresh `SchemaWithClient` (read its fields inside the tests). */
export function eachTestSchema(label: string): SchemaWithClient {
  const current = {} as SchemaWithClient;
  beforeEach(async () => {
    current.schema = await createTestSchema(label);
    current.store = await current.schema.openStore();
    current.client = new pg.Client({ connectionString: current.schema.url });
    await current.client.connect();
  });
  afterEach(async () => {
    await current.client.end();
    await current.store.close();
    await current.schema.drop();
  });
  return current;
}
