import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { chemflow, E2E_TIMEOUT_MS, ensureBuilt, SLOW_FLOW, spawnCli, waitUntil, type Workspace, workspace } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

/** `chemflow run` SIGKILLed while its step waits on a file, then `chemflow resume`, on the store at `db`. */
async function killRunThenResume(ws: Workspace, db: string): Promise<void> {
  const json = async <T>(...args: string[]): Promise<T> => JSON.parse((await chemflow(['--db', db, ...args, '--json'], { cwd: ws.dir })).stdout) as T;
  const child = spawnCli(['--db', db, 'run', 'slow.yaml'], { cwd: ws.dir });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise((resolve) => child.on('close', resolve));
  await waitUntil(() => existsSync(join(ws.dir, 'started.marker')), 'the slow step to start').catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${error.message}:\n${stderr}`);
  });
  child.kill('SIGKILL');
  await exited;
  const flowId = /Flow ([0-9a-f-]{36})/.exec(stderr)?.[1] ?? '';
  expect(flowId).not.toBe('');

  const interrupted = await json<{ status: string; steps: { status: string }[] }>('status', flowId);
  expect(interrupted.status).toBe('running');
  expect(interrupted.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Running', 'Pending']);

  await writeFile(join(ws.dir, 'release.marker'), '');
  const resumed = await chemflow(['--db', db, 'resume', flowId, '--json'], { cwd: ws.dir });
  expect(resumed.code, resumed.stderr).toBe(0);
  const report = JSON.parse(resumed.stdout) as { status: string; steps: { stepId: string; attempts: number; retryCount: number }[] };
  expect(report.status).toBe('completed');
  expect(report.steps[1]).toMatchObject({ stepId: 'slow', attempts: 2, retryCount: 1 });
  const errors = await json<{ errorClass: string; attemptNumber: number; details: { error_code: string } }[]>('errors', flowId);
  expect(errors.map((e) => [e.attemptNumber, e.errorClass, e.details.error_code])).toEqual([[1, 'Transient', 'WORKER_LOST']]);
}

describe('chemflow resume of an interrupted flow', { timeout: E2E_TIMEOUT_MS }, () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('slow.yaml', SLOW_FLOW);
  });
  afterAll(() => ws.remove());

  it('a run killed mid-step is resumed: the lost attempt is a Transient WORKER_LOST error, then the flow completes', () => killRunThenResume(ws, ws.db));

  it('resume finds a moved flow file with --flow, and says so when the recorded one is gone', async () => {
    await writeFile(join(ws.dir, 'release.marker'), '');
    const run = await ws.json<{ flowId: string; status: string }>('run', 'slow.yaml');
    expect(run.status).toBe('completed');
    await rename(join(ws.dir, 'slow.yaml'), join(ws.dir, 'moved.yaml'));
    const lost = await ws.cli('resume', run.flowId);
    expect(lost.code).toBe(2);
    expect(lost.stderr).toContain(`chemflow resume ${run.flowId} --flow <file>`);
    const found = await ws.cli('resume', run.flowId, '--flow', 'moved.yaml');
    expect(found.code).toBe(0);
    expect(found.stderr).toContain('already completed');
  });
});

describeWithPg('chemflow resume of an interrupted flow on PostgreSQL', () => {
  let ws: Workspace;
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema('resume');
    ws = await workspace();
    await ws.write('slow.yaml', SLOW_FLOW);
  });
  afterAll(async () => {
    await schema?.drop();
    await ws?.remove();
  });

  it('a run killed mid-step is resumed: the lost attempt is a Transient WORKER_LOST error, then the flow completes', { timeout: E2E_TIMEOUT_MS }, () =>
    killRunThenResume(ws, schema.url));
});
