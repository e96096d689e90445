// Two `chemflow worker` processes on PostgreSQL run the two branches of one graph flow at the same
// time (seen in the steps' own logs: overlapping attempts in two pids), each branch attempt recorded
// once; a SIGKILL of the worker running a branch leaves one WORKER_LOST row for that step, the other
// worker runs its retry, and the flow completes with the fingerprint of a run without faults.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, pgAvailable } from '../helpers/pg.js';
import { chemflow, ensureBuilt, workspace, type Workspace } from './support/cli.js';
import { background, createPgDb, errorRows, waitUntil, workerLines, type Background, type PgDb } from './support/processes.js';

beforeAll(ensureBuilt, 180_000);

/**
 * `slow` logs `flowId stepId attempt pid start|end epochMs` to branches.log and takes `ms`. While the
 * file `hold-<stepId>.flag` exists beside the flow file, its first attempt writes `held-<flowId>.marker`
 * (its pid) and then waits until it is stopped: the fault is outside the flow, whose hashes stay those
 * of a clean run.
 */
const STEPS = `import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const log = (ctx, what) => appendFileSync(join(ctx.baseDir, 'branches.log'), \`\${ctx.flowId} \${ctx.stepId} \${ctx.attempt} \${process.pid} \${what} \${Date.now()}\\n\`);
const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
});
export const slow = {
  kind: 'source',
  async run(ctx) {
    log(ctx, 'start');
    if (existsSync(join(ctx.baseDir, \`hold-\${ctx.stepId}.flag\`)) && ctx.attempt === 1) {
      writeFileSync(join(ctx.baseDir, \`held-\${ctx.flowId}.marker\`), String(process.pid));
      await sleep(600000, ctx.signal);
    }
    await sleep(ctx.params.ms, ctx.signal);
    log(ctx, 'end');
    return { outputs: [{ kind: 'test/number', payload: { n: ctx.params.n } }] };
  },
};
export const sum = {
  kind: 'transform',
  run(ctx) {
    return { outputs: [{ kind: 'test/number', payload: { n: ctx.input.reduce((t, a) => t + a.payload.n, 0) } }] };
  },
};
`;

const FLOW = `name: two-branches
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - { id: left, uses: ./steps/branches.mjs#slow, params: { n: 2, ms: 2000 } }
  - { id: right, uses: ./steps/branches.mjs#slow, params: { n: 3, ms: 2000 } }
  - { id: join, uses: ./steps/branches.mjs#sum, needs: [left, right] }
`;

interface BranchRun {
  stepId: string;
  attempt: number;
  pid: number;
  what: 'start' | 'end';
  at: number;
}

async function branchRuns(dir: string, flowId: string): Promise<BranchRun[]> {
  const text = await readFile(join(dir, 'branches.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith(flowId))
    .map((l) => {
      const [, stepId = '', attempt = '', pid = '', what = '', at = ''] = l.split(' ');
      return { stepId, attempt: Number(attempt), pid: Number(pid), what: what as 'start' | 'end', at: Number(at) };
    });
}

/** The StepStarted events of a flow, read with plain SQL: `stepId attempt`. */
async function starts(schema: string, flowId: string): Promise<string[]> {
  const rows = await adminQuery<{ step: string; attempt: number }>(
    `SELECT payload->>'stepId' AS step, (payload->>'attempt')::int AS attempt FROM ${schema}.event_log
     WHERE flow_id = $1::uuid AND event_type = 'StepStarted' ORDER BY version`,
    [flowId],
  );
  return rows.map((r) => `${r.step} ${r.attempt}`);
}

const FAST = ['worker', '--json', '--concurrency', '1', '--lease-ms', '1500', '--heartbeat-ms', '300', '--poll-ms', '200'];

describe.skipIf(!pgAvailable)('graph branches across worker processes on PostgreSQL', () => {
  let db: PgDb;
  let ws: Workspace;
  let workers: Background[] = [];
  const cli = (...args: string[]) => chemflow(['--db', db.url, ...args], { cwd: ws.dir });
  const submit = async (file: string): Promise<string> => {
    const result = await cli('submit', file);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.trim();
  };
  const startWorkers = async (n: number) => {
    workers = Array.from({ length: n }, () => background(['--db', db.url, ...FAST], ws.dir));
    for (const w of workers) await waitUntil(() => w.stderr().includes('Worker '), 'a worker to start', 60_000);
  };
  const finished = (flowId: string) => () => workers.flatMap((w) => workerLines(w.stdout())).find((l) => l.flowId === flowId);
  let cleanFingerprint = '';

  beforeAll(async () => {
    db = await createPgDb('branches');
    ws = await workspace();
    await ws.write('steps/branches.mjs', STEPS);
    await ws.write('branches.yaml', FLOW);
    const migrated = await cli('migrate');
    expect(migrated.code, migrated.stderr).toBe(0);
    // The reference: the same flow run in one process, branches in its own threads.
    const clean = await cli('run', 'branches.yaml', '--json', '--quiet');
    expect(clean.code, clean.stderr).toBe(0);
    cleanFingerprint = (JSON.parse(clean.stdout) as { flowFingerprint: string }).flowFingerprint;
  }, 120_000);
  afterEach(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    workers = [];
  });
  afterAll(async () => {
    await db.drop();
    await ws.remove();
  });

  it('runs the two branches at the same time in the two workers, each attempt recorded once', { timeout: 240_000 }, async () => {
    await startWorkers(2);
    const flowId = await submit('branches.yaml');
    const done = await waitUntil(finished(flowId), 'the flow to finish', 120_000, 50);
    expect(done).toMatchObject({ outcome: 'completed', status: 'completed', flowFingerprint: cleanFingerprint });

    const runs = await branchRuns(ws.dir, flowId);
    const span = (stepId: string) => {
      const start = runs.find((r) => r.stepId === stepId && r.what === 'start');
      const end = runs.find((r) => r.stepId === stepId && r.what === 'end');
      if (start === undefined || end === undefined) throw new Error(`${stepId} has no start and end in branches.log`);
      return { pid: start.pid, start: start.at, end: end.at };
    };
    const left = span('left');
    const right = span('right');
    expect(new Set([left.pid, right.pid])).toEqual(new Set(workers.map((w) => w.pid)));
    expect(left.start < right.end && right.start < left.end, `overlapping attempts: ${JSON.stringify({ left, right })}`).toBe(true);
    expect(runs.filter((r) => r.what === 'start').map((r) => `${r.stepId} ${r.attempt}`).sort()).toEqual(['left 1', 'right 1']);
    expect((await starts(db.schema, flowId)).sort()).toEqual(['join 1', 'left 1', 'right 1']);
    expect(await errorRows(db.schema, flowId)).toEqual([]);
  });

  it('a SIGKILL of the worker running a branch: one WORKER_LOST row for it, its retry run by the other worker, the fault-free fingerprint', { timeout: 240_000 }, async () => {
    await ws.write('hold-right.flag', '');
    await startWorkers(2);
    const flowId = await submit('branches.yaml');
    const marker = join(ws.dir, `held-${flowId}.marker`);
    const holder = Number(await waitUntil(async () => (await readFile(marker, 'utf8').catch(() => '')).trim() || undefined, 'a worker to hold the branch', 60_000, 50));
    const victim = workers.find((w) => w.pid === holder);
    const survivor = workers.find((w) => w.pid !== holder);
    if (victim === undefined || survivor === undefined) throw new Error(`the branch runs in pid ${holder}, not a worker of this test`);
    victim.kill('SIGKILL');
    await victim.exited;

    const done = await waitUntil(() => workerLines(survivor.stdout()).find((l) => l.flowId === flowId), 'the survivor to finish the flow', 120_000, 50);
    expect(done).toMatchObject({ outcome: 'completed', status: 'completed', flowFingerprint: cleanFingerprint });
    const lost = await errorRows(db.schema, flowId);
    expect(lost.map((r) => [r.step_id, r.attempt_number, r.error_class, r.error_code])).toEqual([['right', 1, 'Transient', 'WORKER_LOST']]);
    const runs = await branchRuns(ws.dir, flowId);
    const retried = runs.filter((r) => r.stepId === 'right' && r.attempt === 2);
    expect(retried.map((r) => [r.what, r.pid])).toEqual([
      ['start', survivor.pid],
      ['end', survivor.pid],
    ]);
    expect(await starts(db.schema, flowId)).toEqual(expect.arrayContaining(['left 1', 'right 1', 'right 2', 'join 1']));
    expect((await starts(db.schema, flowId)).length).toBe(4);
  });
});
