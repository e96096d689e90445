import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { chemflow, E2E_TIMEOUT_MS, ensureBuilt, SLOW_FLOW, spawnCli, waitUntil, type Workspace, workspace } from './support/cli.js';
import { afterLeaseExpiry, killLeftoverWorkers, LOGGED_STEPS, readExecutions, SHORT_LEASE, startWorker } from './support/workers.js';

beforeAll(ensureBuilt, 180_000);
afterEach(killLeftoverWorkers);

/** The first step of each flow waits until steps of both workers have run, so both surely get work. */
const LOGGED_FLOW = `name: logged
steps:
  - { id: seed, uses: ./steps/logged.mjs#rendezvous }
  - { id: a, uses: ./steps/logged.mjs#slowIncrement }
  - { id: b, uses: ./steps/logged.mjs#slowIncrement }
  - { id: c, uses: ./steps/logged.mjs#slowIncrement }
`;

interface OutcomeLine {
  flowId: string;
  outcome: string;
  status: string | null;
  flowFingerprint: string | null;
}

const lines = (stdout: string): OutcomeLine[] =>
  stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as OutcomeLine);

const waitForFile = (file: string, what: string): Promise<void> => waitUntil(() => existsSync(file), what);

/**
 * A worker killed (SIGKILL) while its step waits on a file: another worker records the lost attempt
 * as a Transient WORKER_LOST error and completes the flow. `db` is the workspace's store location.
 */
async function killMidAttempt(ws: Workspace, db: string): Promise<string> {
  await rm(join(ws.dir, 'release.marker'), { force: true });
  await rm(join(ws.dir, 'started.marker'), { force: true });
  const submitted = await chemflow(['--db', db, 'submit', 'slow.yaml'], { cwd: ws.dir });
  expect(submitted.code, submitted.stderr).toBe(0);
  const flowId = submitted.stdout.trim();
  const worker = startWorker(db, ws.dir, SHORT_LEASE);
  await waitForFile(join(ws.dir, 'started.marker'), 'the slow step to start');
  await worker.kill();
  expect((await worker.exited).signal).toBe('SIGKILL');
  await writeFile(join(ws.dir, 'release.marker'), '');
  await afterLeaseExpiry();
  return flowId;
}

async function expectRecovered(ws: Workspace, db: string, flowId: string, recovering: { code: number | null; stdout: string; stderr: string }): Promise<void> {
  expect(recovering.code, recovering.stderr).toBe(0);
  expect(lines(recovering.stdout)).toMatchObject([{ flowId, outcome: 'completed' }]);
  const errors = await chemflow(['--db', db, 'errors', flowId, '--json'], { cwd: ws.dir });
  const rows = JSON.parse(errors.stdout) as { attemptNumber: number; errorClass: string; details: { error_code: string } }[];
  expect(rows.map((e) => [e.attemptNumber, e.errorClass, e.details.error_code])).toEqual([[1, 'Transient', 'WORKER_LOST']]);
}

describeWithPg('chemflow worker: several processes on one PostgreSQL database', () => {
  let schema: TestSchema;
  let ws: Workspace;
  beforeAll(async () => {
    schema = await createTestSchema('workers');
    ws = await workspace();
    await ws.write('steps/logged.mjs', LOGGED_STEPS);
    await ws.write('logged.yaml', LOGGED_FLOW);
    await ws.write('slow.yaml', SLOW_FLOW);
  });
  afterAll(async () => {
    await schema?.drop();
    await ws?.remove();
  });

  it('two workers run eight submitted flows: both do some, each completes once, each step runs exactly once', { timeout: E2E_TIMEOUT_MS }, async () => {
    const db = schema.url;
    const submitted: string[] = [];
    for (let i = 0; i < 8; i++) {
      const result = await chemflow(['--db', db, 'submit', 'logged.yaml', '--json'], { cwd: ws.dir });
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { flowId: string; status: string; name: string };
      expect(report).toMatchObject({ status: 'pending', name: 'logged' });
      submitted.push(report.flowId);
    }

    const args = ['--once', '--concurrency', '2', '--poll-ms', '20', '--json'];
    const started = [startWorker(db, ws.dir, args), startWorker(db, ws.dir, args)];
    const workers = await Promise.all(started.map((w) => w.exited));
    for (const w of workers) expect(w.code, w.stderr).toBe(0);

    const completed = workers.flatMap((w) => lines(w.stdout)).filter((l) => l.outcome === 'completed');
    expect(completed.map((l) => l.flowId).sort()).toEqual([...submitted].sort());
    expect(new Set(completed.map((l) => l.flowFingerprint)).size).toBe(1); // same inputs, same fingerprint

    const executions = await readExecutions(ws.dir);
    const perAttempt = executions.map((e) => `${e.flowId} ${e.stepId} ${e.attempt}`);
    expect(perAttempt.sort()).toEqual(submitted.flatMap((id) => ['seed', 'a', 'b', 'c'].map((s) => `${id} ${s} 1`)).sort());
    // Both worker processes ran attempts (the first steps wait for each other), and no one else did.
    expect([...new Set(executions.map((e) => e.pid))].sort()).toEqual(started.map((w) => w.pid).sort());

    const flows = JSON.parse((await chemflow(['--db', db, 'flows', '--json'], { cwd: ws.dir })).stdout) as { flowId: string; status: string }[];
    expect(flows.filter((f) => submitted.includes(f.flowId)).every((f) => f.status === 'completed')).toBe(true);
  });

  it('a worker killed mid-attempt: another worker records the lost attempt and completes the flow', { timeout: E2E_TIMEOUT_MS }, async () => {
    const flowId = await killMidAttempt(ws, schema.url);
    const recovering = await chemflow(['--db', schema.url, 'worker', '--once', '--json'], { cwd: ws.dir });
    await expectRecovered(ws, schema.url, flowId, recovering);
  });
});

/** Long enough for a CLI call on a loaded machine to finish well inside it. */
const LEASE_MS = 20_000;

describe('chemflow worker on the embedded database', { timeout: E2E_TIMEOUT_MS }, () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('slow.yaml', SLOW_FLOW);
  });
  afterAll(() => ws.remove());

  it('SIGTERM lets the attempt in flight finish, then a later worker completes the flow', async () => {
    const flowId = (await ws.cli('submit', 'slow.yaml')).stdout.trim();
    const child = spawnCli(['--db', ws.db, 'worker', '--json'], { cwd: ws.dir });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitForFile(join(ws.dir, 'started.marker'), 'the slow step to start');
    child.kill('SIGTERM');
    // Released only once the worker has taken the signal: on a loaded machine the step's own poll could
    // otherwise see the marker first, finish and chain the next step before the signal is handled.
    await waitUntil(() => stderr.includes('Stopping after the current steps'), 'the worker to take SIGTERM');
    await writeFile(join(ws.dir, 'release.marker'), '');
    expect(await exited).toBe(0);
    expect(lines(stdout)).toMatchObject([{ flowId, outcome: 'stopped', status: 'running' }]);

    const status = await ws.json<{ steps: { status: string }[] }>('status', flowId);
    expect(status.steps.map((s) => s.status)).toEqual(['FinishedOk', 'FinishedOk', 'Pending']);
    const finish = await ws.cli('worker', '--once', '--json');
    expect(finish.code, finish.stderr).toBe(0);
    expect(lines(finish.stdout)).toMatchObject([{ flowId, outcome: 'completed', status: 'completed' }]);
    expect(await ws.json<unknown[]>('errors', flowId)).toEqual([]);
  });

  it('a worker killed mid-attempt: another worker records the lost attempt and completes the flow', async () => {
    await rm(join(ws.dir, 'release.marker'), { force: true });
    await rm(join(ws.dir, 'started.marker'), { force: true });
    const flowId = (await ws.cli('submit', 'slow.yaml')).stdout.trim();
    const child = spawnCli(['--db', ws.db, 'worker', '--lease-ms', String(LEASE_MS), '--heartbeat-ms', '1000'], { cwd: ws.dir });
    const exited = new Promise((resolve) => child.on('close', resolve));
    await waitForFile(join(ws.dir, 'started.marker'), 'the slow step');
    child.kill('SIGKILL');
    const killedAt = Date.now();
    await exited;

    await writeFile(join(ws.dir, 'release.marker'), '');
    const patient = await ws.cli('worker', '--once', '--json');
    expect(patient.code).toBe(0);
    expect(patient.stdout).toBe(''); // its lease has not expired: presumed alive elsewhere, left alone

    await new Promise((r) => setTimeout(r, killedAt + LEASE_MS + 500 - Date.now())); // the killed worker's lease expires
    const recovering = await ws.cli('worker', '--once', '--json');
    expect(recovering.code, recovering.stderr).toBe(0);
    expect(lines(recovering.stdout)).toMatchObject([{ flowId, outcome: 'completed' }]);
    const errors = await ws.json<{ attemptNumber: number; errorClass: string; details: { error_code: string } }[]>('errors', flowId);
    expect(errors.map((e) => [e.attemptNumber, e.errorClass, e.details.error_code])).toEqual([[1, 'Transient', 'WORKER_LOST']]);
  });

  it('a flow that fails makes `worker --once` exit 1 and names the step', async () => {
    await ws.write('gated.yaml', 'name: gated\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: gate, uses: ./steps/gate.mjs }\n');
    const flowId = (await ws.cli('submit', 'gated.yaml')).stdout.trim();
    const result = await ws.cli('worker', '--once', '--quiet');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^failed +${flowId} +gated +step gate: Permanent`, 'm'));
  });
});
