/** The PostgreSQL server the integration and e2e tests use (override with CHEMFLOW_TEST_PG_URL). */
export const TEST_PG_URL = process.env.CHEMFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** `TEST_PG_URL` with every connection's `search_path` set to `schema`: the form `--db`/`DATABASE_URL` take. */
export function urlForSchema(schema: string, extra: Record<string, string> = {}): string {
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, value);
  return url.toString();
}
