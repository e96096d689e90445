import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, createTestSchema, pgAvailable, TEST_PG_URL, type TestSchema } from '../helpers/pg.js';
import { chemflow, ensureBuilt, spawnCli, workspace, type Workspace } from './support/cli.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function exited(child: ChildProcess): Promise<Exit> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
}

async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  for (const started = Date.now(); !(await condition()); ) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(ensureBuilt, 180_000);

describe('SIGTERM while a worker starts up', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
  });
  afterAll(() => ws.remove());

  it('on a new embedded database: exits 0, and the database it was creating is usable', async () => {
    const db = join(ws.dir, 'fresh-db');
    const child = spawnCli(['--db', db, 'worker'], { cwd: ws.dir });
    const done = exited(child);
    // The directory appears as the store starts opening; creating the database takes much longer.
    await until('the database directory', () => existsSync(db));
    child.kill('SIGTERM');
    const result = await done;
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('Worker ');
    const flows = await chemflow(['--db', db, 'flows', '--json'], { cwd: ws.dir, timeoutMs: 90_000 });
    expect(flows.code, flows.stderr).toBe(0);
    expect(JSON.parse(flows.stdout)).toEqual([]);
  }, 120_000);
});

describe.runIf(pgAvailable)('SIGTERM while a worker starts up on PostgreSQL', () => {
  let ws: Workspace;
  let schema: TestSchema;
  beforeAll(async () => {
    ws = await workspace();
    schema = await createTestSchema('cli_worker_sigterm');
  });
  afterAll(async () => {
    await schema.drop();
    await ws.remove();
  });

  it('exits 0 at once while its migration waits on a lock, starting nothing', async () => {
    const applicationName = `cf-startup-${randomUUID().slice(0, 8)}`;
    const url = new URL(TEST_PG_URL);
    url.searchParams.set('application_name', applicationName);
    url.searchParams.set('options', `-c search_path=${schema.name}`);
    // Hold the migration lock of that schema, so the worker is stuck in start-up until we let go.
    const holder = new pg.Client({ connectionString: TEST_PG_URL, options: `-c search_path=${schema.name}` });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtext('chemflow.migrate.' || current_schema()))`);
      const child = spawnCli(['--db', url.toString(), 'worker'], { cwd: ws.dir });
      const done = exited(child);
      await until('the worker waiting on the migration lock', async () => {
        const rows = await adminQuery('SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = $2', [
          applicationName,
          'Lock',
        ]);
        return rows.length > 0;
      });
      const signalledAt = Date.now();
      child.kill('SIGTERM');
      const result = await done;
      expect(result.signal, result.stderr).toBeNull();
      expect(result.code, result.stderr).toBe(0);
      expect(Date.now() - signalledAt).toBeLessThan(10_000); // it did not wait for the lock
      expect(result.stderr).not.toContain('Worker ');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    // Its connection is gone with it.
    await until('the worker connection to close', async () => {
      const rows = await adminQuery('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
      return rows.length === 0;
    });
  }, 120_000);
});
