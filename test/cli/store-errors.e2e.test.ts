import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, createTestSchema, pgAvailable, TEST_PG_URL, type TestSchema } from '../helpers/pg.js';
import { chemflow, ensureBuilt, workspace, type CliResult, type Workspace } from './support/cli.js';

const EXIT_STORE = 3;

/** The test server, in `schema`, with connections named `applicationName` so that only they are killed. */
function urlFor(schema: string, applicationName: string): string {
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('application_name', applicationName);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** Terminates every connection named `applicationName`, every few ms, until stopped. */
function killLoop(applicationName: string): { stop(): Promise<number> } {
  let running = true;
  let killed = 0;
  const loop = (async () => {
    while (running) {
      const rows = await adminQuery<{ ok: boolean }>(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      killed += rows.filter((row) => row.ok).length;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return killed;
    },
  };
}

function expectStoreErrorOrSuccess(result: CliResult): void {
  expect(result.stderr).not.toContain("Unhandled 'error' event");
  expect([0, EXIT_STORE], result.stderr).toContain(result.code);
  if (result.code === EXIT_STORE) {
    expect(result.stderr).toMatch(/^Error \(STORE_ERROR\): open the database at .* failed: /m);
    expect(result.stderr).toMatch(/^Next: /m);
  }
}

describe.runIf(pgAvailable)('a connection lost while the store opens (PostgreSQL server)', () => {
  let schema: TestSchema;
  let ws: Workspace;
  beforeAll(async () => {
    await ensureBuilt();
    schema = await createTestSchema('cli_conn_loss');
    ws = await workspace();
    await ws.write('flow.yaml', 'name: one\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n');
  }, 180_000);
  afterAll(async () => {
    await schema.drop();
    await ws.remove();
  });

  it('is a store error with its own exit code, never an unhandled error event (flows, run)', async () => {
    const applicationName = `cf-e2e-kill-${randomUUID().slice(0, 8)}`;
    const db = urlFor(schema.name, applicationName);
    const killer = killLoop(applicationName);
    const results: CliResult[] = [];
    try {
      // Each open connects and migrates a few times over (bounded retries): every one of those
      // connections is a chance for a kill to land while it is being set up or used.
      for (let i = 0; i < 6; i++) results.push(await chemflow(['--db', db, 'flows'], { cwd: ws.dir, timeoutMs: 90_000 }));
      for (let i = 0; i < 2; i++)
        results.push(await chemflow(['--db', db, 'run', 'flow.yaml', '--quiet'], { cwd: ws.dir, timeoutMs: 90_000 }));
    } finally {
      expect(await killer.stop()).toBeGreaterThan(0);
    }
    for (const result of results) expectStoreErrorOrSuccess(result);
    expect(results.some((r) => r.code === EXIT_STORE)).toBe(true);
    // Once the connections are left alone, the same database works.
    const after = await chemflow(['--db', db, 'flows', '--json'], { cwd: ws.dir, timeoutMs: 90_000 });
    expect(after.code, after.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(after.stdout))).toBe(true);
  }, 300_000);

  it('a database that does not exist is a configuration error: exit 2, never "check that the database is up"', async () => {
    const url = new URL(TEST_PG_URL);
    url.pathname = `/cf_missing_${randomUUID().slice(0, 8)}`;
    const result = await chemflow(['--db', url.toString(), 'flows'], { cwd: ws.dir, timeoutMs: 90_000 });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^Error \(STORE_MISCONFIGURED\): open the database at .* does not exist \(SQLSTATE 3D000\)$/m);
    expect(result.stderr).toMatch(/^Next: check --db \/ DATABASE_URL/m);
    expect(result.stderr).not.toMatch(/database is up/);
  }, 120_000);

  it('an unreachable server is a store error too', async () => {
    const url = new URL(TEST_PG_URL);
    url.port = '1'; // nothing listens there
    const result = await chemflow(['--db', url.toString(), 'flows'], { cwd: ws.dir, timeoutMs: 90_000 });
    expect(result.code, result.stderr).toBe(EXIT_STORE);
    expect(result.stderr).toMatch(/ECONNREFUSED/);
  }, 120_000);
});

describe('bad input is said as bad input, never as a database failure', () => {
  let ws: Workspace;
  beforeAll(async () => {
    await ensureBuilt();
    ws = await workspace();
  }, 180_000);
  afterAll(async () => {
    await ws.remove();
  });

  it.each([
    ['postgres://x:secret@host:notaport/db', /--db: Invalid database URL: it does not parse as a URL/],
    ['postgres://%zz', /--db: Invalid database URL: the host holds a "%"/],
  ])('a malformed --db URL (%s) exits 2 before any connection, without repeating it', async (db, message) => {
    const result = await chemflow(['--db', db, 'flows'], { cwd: ws.dir, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain('secret');
    expect(result.stderr).not.toMatch(/database is up/);
  }, 120_000);

  it('a --limit beyond what the database counts exits 2 naming the option', async () => {
    const result = await chemflow(['--db', 'memory', 'flows', '--limit', '99999999999'], { cwd: ws.dir, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/--limit.*no larger than 2147483647/);
    expect(result.stderr).not.toMatch(/database is up/);
  }, 120_000);
});
