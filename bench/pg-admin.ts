// The PostgreSQL server the benchmarks use, and the schemas and databases they create and drop.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Same server as the integration tests unless CHEMFLOW_BENCH_PG_URL says otherwise. */
export const BENCH_PG_URL =
  process.env.CHEMFLOW_BENCH_PG_URL ?? process.env.CHEMFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One statement on a short-lived administrative connection (never one of the measured ones). */
export async function adminQuery<Row extends object = Record<string, unknown>>(
  text: string,
  values: unknown[] = [],
  url = BENCH_PG_URL,
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as Row[];
  } finally {
    await client.end();
  }
}

/** A unique identifier `cf_bench_<label>_<random>`: every run creates its own and drops it. */
export function benchName(label: string): string {
  return `cf_bench_${label}_${randomBytes(4).toString('hex')}`;
}

export interface BenchSchema {
  readonly name: string;
  drop(): Promise<void>;
}

export async function createBenchSchema(label: string): Promise<BenchSchema> {
  const name = benchName(label);
  await adminQuery(`CREATE SCHEMA ${name}`);
  return { name, drop: async () => void (await adminQuery(`DROP SCHEMA IF EXISTS ${name} CASCADE`)) };
}

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** A database of its own on the same server (DBOS wants a system database to itself). */
export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = benchName(label);
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(BENCH_PG_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => void (await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

/** The server's version and durability settings, stated with the results. */
export async function serverFacts(): Promise<Record<string, string>> {
  const rows = await adminQuery<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'wal_sync_method')`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
}
