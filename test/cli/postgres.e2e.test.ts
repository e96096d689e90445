import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chemflow, ensureBuilt, workspace, type Workspace } from './support/cli.js';

const SERVER = process.env.CHEMFLOW_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: SERVER, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** The CLI on a PostgreSQL server chosen by DATABASE_URL, in a schema of its own. */
describe.skipIf(!(await reachable()))('chemflow on PostgreSQL (DATABASE_URL)', () => {
  const schema = `cli_e2e_${randomBytes(6).toString('hex')}`;
  const url = `${SERVER}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  let ws: Workspace;
  beforeAll(async () => {
    await ensureBuilt();
    await sql(`CREATE SCHEMA ${schema}`);
    ws = await workspace();
    await ws.write(
      'flow.yaml',
      'name: pg\nretry: { backoff: { kind: none } }\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: flaky, uses: ./steps/flaky.mjs#flaky }\n',
    );
  }, 180_000);
  afterAll(async () => {
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await ws.remove();
  });

  it('runs a flow and reads it back from the server', async () => {
    const env = { DATABASE_URL: url };
    const run = await chemflow(['run', 'flow.yaml', '--json'], { cwd: ws.dir, env });
    expect(run.code, run.stderr).toBe(0);
    const { flowId } = JSON.parse(run.stdout) as { flowId: string };
    const status = await chemflow(['status', flowId, '--json'], { cwd: ws.dir, env });
    expect(JSON.parse(status.stdout)).toMatchObject({ flowId, status: 'completed', errors: { total: 1 } });
    const errors = await chemflow(['errors', flowId, '--json'], { cwd: ws.dir, env });
    expect((JSON.parse(errors.stdout) as { errorClass: string }[]).map((e) => e.errorClass)).toEqual(['Transient']);
    expect(existsSync(join(ws.dir, '.chemflow'))).toBe(false); // no embedded database was created
  });
});
