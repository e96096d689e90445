// The PostgreSQL server of the tests and the rule for when it is away; no connection is made here
// (helpers/pg.ts probes), so child processes and unit tests can import it.

/** The PostgreSQL server the integration and e2e tests use (override with CHEMFLOW_TEST_PG_URL). */
export const TEST_PG_URL = process.env.CHEMFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** `TEST_PG_URL` with every connection's `search_path` set to `schema`: the form `--db`/`DATABASE_URL` take. */
export function urlForSchema(schema: string, extra: Record<string, string> = {}): string {
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, value);
  return url.toString();
}

/**
 * The one rule for tests that need the PostgreSQL server: reachable → they run; unreachable → they are
 * skipped with the reason shown, unless CI is set, where an unreachable server fails the run.
 */
export function pgVerdict(unreachable: Error | null, ci: boolean, url: string = TEST_PG_URL): { available: boolean; skipReason: string | null } {
  if (unreachable === null) return { available: true, skipReason: null };
  const reason = `PostgreSQL is not reachable at ${withoutPassword(url)}: ${unreachable.message}`;
  // On CI a missing database is a broken pipeline, never a silent green run.
  if (ci) throw new Error(`${reason} (CI is set, so the PostgreSQL tests cannot be skipped; set CHEMFLOW_TEST_PG_URL)`, { cause: unreachable });
  return { available: false, skipReason: `${reason} (start one or set CHEMFLOW_TEST_PG_URL; with CI set this fails instead)` };
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable CHEMFLOW_TEST_PG_URL)';
  }
}
