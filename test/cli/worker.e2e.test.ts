import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, pgAvailable, TEST_PG_URL } from '../helpers/pg.js';
import { chemflow, type CliResult, ensureBuilt, SLOW_FLOW, spawnCli, type Workspace, workspace } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

/** Every execution of a step appends `flowId stepId attempt pid` to executions.log beside the flow file. */
const LOGGED_STEPS = `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
const log = (ctx) => appendFileSync(join(ctx.baseDir, 'executions.log'), \`\${ctx.flowId} \${ctx.stepId} \${ctx.attempt} \${process.pid}\\n\`);
export const source = {
  kind: 'source',
  run(ctx) { log(ctx); return { outputs: [{ kind: 'number', payload: { n: 1 } }] }; },
};
export const increment = {
  kind: 'transform',
  async run(ctx) {
    log(ctx);
    await new Promise((r) => setTimeout(r, 15));
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n + 1 } }] };
  },
};
`;

const LOGGED_FLOW = `name: logged
steps:
  - { id: seed, uses: ./steps/logged.mjs#source }
  - { id: a, uses: ./steps/logged.mjs#increment }
  - { id: b, uses: ./steps/logged.mjs#increment }
  - { id: c, uses: ./steps/logged.mjs#increment }
`;

interface OutcomeLine {
  flowId: string;
  outcome: string;
  status: string | null;
  flowFingerprint: string | null;
}

function run(args: string[], cwd: string): Promise<CliResult & { pid: number }> {
  const child = spawnCli(args, { cwd });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, pid: child.pid ?? 0 });
    });
  });
}

const lines = (stdout: string): OutcomeLine[] =>
  stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as OutcomeLine);

async function waitFor(file: string, what: string): Promise<void> {
  for (let waited = 0; !existsSync(file); waited += 50) {
    if (waited > 30_000) throw new Error(`${what} never happened`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!pgAvailable)('chemflow worker: several processes on one PostgreSQL database', () => {
  const schema = `cf_workers_${randomBytes(5).toString('hex')}`;
  const db = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  let ws: Workspace;
  beforeAll(async () => {
    await adminQuery(`CREATE SCHEMA ${schema}`);
    ws = await workspace();
    await ws.write('steps/logged.mjs', LOGGED_STEPS);
    await ws.write('logged.yaml', LOGGED_FLOW);
  });
  afterAll(async () => {
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await ws.remove();
  });

  it('two workers run eight submitted flows: each completes once, each step runs exactly once', { timeout: 180_000 }, async () => {
    const submitted: string[] = [];
    for (let i = 0; i < 8; i++) {
      const result = await chemflow(['--db', db, 'submit', 'logged.yaml', '--json'], { cwd: ws.dir });
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { flowId: string; status: string; name: string };
      expect(report).toMatchObject({ status: 'pending', name: 'logged' });
      submitted.push(report.flowId);
    }

    const args = ['--db', db, 'worker', '--once', '--concurrency', '2', '--poll-ms', '20', '--json'];
    const workers = await Promise.all([run(args, ws.dir), run(args, ws.dir)]);
    for (const w of workers) expect(w.code, w.stderr).toBe(0);

    const completed = workers.flatMap((w) => lines(w.stdout)).filter((l) => l.outcome === 'completed');
    expect(completed.map((l) => l.flowId).sort()).toEqual([...submitted].sort());
    expect(new Set(completed.map((l) => l.flowFingerprint)).size).toBe(1); // same inputs, same fingerprint

    const executions = (await readFile(join(ws.dir, 'executions.log'), 'utf8')).trim().split('\n');
    const perAttempt = executions.map((line) => line.split(' ').slice(0, 3).join(' '));
    expect(perAttempt.sort()).toEqual(submitted.flatMap((id) => ['seed', 'a', 'b', 'c'].map((s) => `${id} ${s} 1`)).sort());

    const flows = JSON.parse((await chemflow(['--db', db, 'flows', '--json'], { cwd: ws.dir })).stdout) as { flowId: string; status: string }[];
    expect(flows.filter((f) => submitted.includes(f.flowId)).every((f) => f.status === 'completed')).toBe(true);
  });
});

/** Long enough for a CLI call on a loaded machine to finish well inside it. */
const LEASE_MS = 20_000;

describe('chemflow worker on the embedded database', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('slow.yaml', SLOW_FLOW);
  });
  afterAll(() => ws.remove());

  it('SIGTERM lets the attempt in flight finish, then a later worker completes the flow', { timeout: 120_000 }, async () => {
    const flowId = (await ws.cli('submit', 'slow.yaml')).stdout.trim();
    const child = spawnCli(['--db', ws.db, 'worker', '--json'], { cwd: ws.dir });
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor(join(ws.dir, 'started.marker'), 'the slow step');
    child.kill('SIGTERM');
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

  it('a worker killed mid-attempt: another worker records the lost attempt and completes the flow', { timeout: 120_000 }, async () => {
    await rm(join(ws.dir, 'release.marker'), { force: true });
    await rm(join(ws.dir, 'started.marker'), { force: true });
    const flowId = (await ws.cli('submit', 'slow.yaml')).stdout.trim();
    const child = spawnCli(['--db', ws.db, 'worker', '--lease-ms', String(LEASE_MS), '--heartbeat-ms', '1000'], { cwd: ws.dir });
    const exited = new Promise((resolve) => child.on('close', resolve));
    await waitFor(join(ws.dir, 'started.marker'), 'the slow step');
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

  it('a flow that fails makes `worker --once` exit 1 and names the step', { timeout: 60_000 }, async () => {
    await ws.write('gated.yaml', 'name: gated\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: gate, uses: ./steps/gate.mjs }\n');
    const flowId = (await ws.cli('submit', 'gated.yaml')).stdout.trim();
    const result = await ws.cli('worker', '--once', '--quiet');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^failed +${flowId} +gated +step gate: Permanent`, 'm'));
  });
});
