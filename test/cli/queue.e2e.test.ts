// 4 worker processes on 120 flows sharing one PostgreSQL database, with workers
// SIGKILLed at random moments (a replacement started each time). Every flow completes, every attempt is
// recorded once, and no attempt ever ran twice at the same time — checked through the steps' own side
// effects (executions.log), not only through the event log.
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAvailable } from '../helpers/pg.js';
import { chemflow, ensureBuilt, ROOT, workspace, type Workspace } from './support/cli.js';
import {
  background,
  createPgDb,
  errorRows,
  eventRows,
  readExecutions,
  RECORDING_STEPS,
  waitUntil,
  type Background,
  type EventRow,
  type Execution,
  type PgDb,
} from './support/processes.js';

beforeAll(ensureBuilt, 180_000);

const FLOWS = 120;
const KILLS = 4;
const WORKER_ARGS = ['worker', '--json', '--lease-ms', '2000', '--heartbeat-ms', '500', '--poll-ms', '200'];

const SHORT_FLOW = `name: short
retry: { maxRetries: 10, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/recording.mjs#source }
  - { id: a, uses: ./steps/recording.mjs#increment, params: { ms: 25 } }
  - { id: b, uses: ./steps/recording.mjs#increment, params: { ms: 25 } }
  - { id: c, uses: ./steps/recording.mjs#increment, params: { ms: 25 } }
`;

/**
 * Submits `n` flows in one process through the CLI's own entry point (`main`, as bin/chemflow.js
 * calls it): the same `submit` command, without paying a Node start-up per flow on a loaded machine.
 */
const SUBMIT_MANY = `import { main } from ${JSON.stringify(new URL('dist/cli/main.js', `file://${ROOT}`).href)};
const [db, file, n] = process.argv.slice(2);
const ids = [];
for (let i = 0; i < Number(n); i++) {
  let out = '';
  let err = '';
  const io = { stdout: { write: (s) => (out += s) }, stderr: { write: (s) => (err += s) }, env: process.env, cwd: process.cwd() };
  const code = await main(['node', 'chemflow', '--db', db, 'submit', file], io);
  if (code !== 0) throw new Error('submit exited ' + code + ': ' + err);
  ids.push(out.trim());
}
process.stdout.write(JSON.stringify(ids));
process.exit(0);
`;

describe.skipIf(!pgAvailable)('4 workers on one PostgreSQL database, killed at random', () => {
  let db: PgDb;
  let ws: Workspace;
  const cli = (...args: string[]) => chemflow(['--db', db.url, ...args], { cwd: ws.dir, timeoutMs: 120_000 });

  beforeAll(async () => {
    db = await createPgDb('queue');
    ws = await workspace();
    await ws.write('steps/recording.mjs', RECORDING_STEPS);
    await ws.write('short.yaml', SHORT_FLOW);
    await ws.write('submit-many.mjs', SUBMIT_MANY);
  }, 120_000);
  afterAll(async () => {
    await db.drop();
    await ws.remove();
  });

  it(`${FLOWS} flows, ${KILLS} SIGKILLs: all complete, every attempt once, never two at a time`, { timeout: 900_000 }, async () => {
    const clean = await cli('run', 'short.yaml', '--json', '--quiet');
    expect(clean.code, clean.stderr).toBe(0);
    const cleanFingerprint = (JSON.parse(clean.stdout) as { flowFingerprint: string }).flowFingerprint;

    const submitted = await submitMany(ws.dir, db.url, FLOWS);
    expect(new Set(submitted).size).toBe(FLOWS);

    const live: Background[] = [];
    const all: Background[] = [];
    const killedAt = new Map<number, number>();
    const start = (): void => {
      const w = background(['--db', db.url, ...WORKER_ARGS], ws.dir, 900_000);
      live.push(w);
      all.push(w);
    };
    for (let i = 0; i < 4; i++) start();

    try {
      // Kills start once work is under way (Node start-up is slow on a loaded machine).
      await waitUntil(async () => new Set((await readExecutions(ws.dir)).map((x) => x.pid)).size >= 3, 'three workers to run steps', 120_000);
      for (let k = 0; k < KILLS; k++) {
        await new Promise((r) => setTimeout(r, randomInt(200, 1_500)));
        // A random worker in the middle of a step (its last line is a start), else any worker.
        const midStep = await waitUntil(
          async () => {
            const executions = await readExecutions(ws.dir);
            const found = live.filter((w) => executions.filter((x) => x.pid === w.pid).at(-1)?.what === 'start');
            return found.length > 0 ? found : undefined;
          },
          'a worker in the middle of a step',
          5_000,
          10,
        ).catch(() => live);
        const victim = midStep[randomInt(midStep.length)] as Background;
        victim.kill('SIGKILL');
        await victim.exited;
        killedAt.set(victim.pid, Date.now()); // nothing of it runs after this
        live.splice(live.indexOf(victim), 1);
        start();
      }

      await waitUntil(
        async () => {
          const done = await cli('flows', '--status', 'completed', '--limit', '1000', '--json');
          const ids = new Set((JSON.parse(done.stdout) as { flowId: string }[]).map((f) => f.flowId));
          return submitted.every((id) => ids.has(id));
        },
        'every flow to complete',
        600_000,
        2_000,
      );
    } finally {
      for (const w of live) w.kill('SIGTERM');
    }
    for (const w of live) expect(await w.exited, w.stderr()).toBe(0);

    const listed = JSON.parse((await cli('flows', '--limit', '1000', '--json')).stdout) as { flowId: string; status: string }[];
    const statuses = new Map(listed.map((f) => [f.flowId, f.status]));
    expect(submitted.filter((id) => statuses.get(id) !== 'completed')).toEqual([]);

    const events = groupBy(await eventRows(db.schema), (e) => e.flow_id);
    const errors = await errorRows(db.schema);
    const executions = groupBy(await readExecutions(ws.dir), (x) => x.flowId);
    let lost = 0;
    for (const flowId of submitted) {
      const log = events.get(flowId) ?? [];
      lost += checkLog(flowId, log, cleanFingerprint);
      // Every failure is a lost attempt, with its error row.
      const failures = log.filter((e) => e.event_type === 'StepFailed').map((e) => `${e.payload.stepId}#${e.payload.attempt} ${e.payload.errorClass} ${e.payload.error?.code}`);
      const rows = errors.filter((r) => r.flow_id === flowId).map((r) => `${r.step_id}#${r.attempt_number} ${r.error_class} ${r.error_code}`);
      expect(rows, flowId).toEqual(failures);
      for (const f of failures) expect(f, flowId).toMatch(/ Transient WORKER_LOST$/);
      checkSideEffects(flowId, log, executions.get(flowId) ?? [], killedAt);
    }
    // The kills did land in the middle of attempts, and those were recovered as lost.
    expect(lost).toBeGreaterThan(0);
    const killedPids = [...killedAt.keys()];
    expect(killedPids).toHaveLength(KILLS);
    const lostAttempts = [...events.values()].flat().filter((e) => e.event_type === 'StepFailed');
    expect(lostAttempts.length).toBe(lost);
    expect(all).toHaveLength(4 + KILLS);
    console.info(`[queue.e2e] ${FLOWS} flows, ${all.length} worker processes, ${KILLS} killed, ${lost} attempts recovered as WORKER_LOST`);
  });
});

async function submitMany(dir: string, db: string, n: number): Promise<string[]> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [join(dir, 'submit-many.mjs'), db, 'short.yaml', String(n)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`submit-many exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as string[];
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}

/**
 * The event log of one flow: versions 1..n; each step's attempts start at 1 and follow each other;
 * each StepStarted is followed by exactly one outcome of that attempt before anything else starts;
 * it ends with the clean run's fingerprint. Returns the number of failed (lost) attempts.
 */
function checkLog(flowId: string, log: readonly EventRow[], fingerprint: string): number {
  expect(log.map((e) => e.version), flowId).toEqual(log.map((_, i) => i + 1));
  const attempts = new Map<string, number>();
  let open: string | null = null;
  let failed = 0;
  for (const e of log) {
    const attempt = `${e.payload.stepId}#${e.payload.attempt}`;
    if (e.event_type === 'StepStarted') {
      expect(open, `${flowId}: ${attempt} started while ${open} had no outcome`).toBeNull();
      const stepId = e.payload.stepId ?? '';
      expect(e.payload.attempt, `${flowId}: attempts of ${stepId}`).toBe((attempts.get(stepId) ?? 0) + 1);
      attempts.set(stepId, e.payload.attempt ?? 0);
      open = attempt;
    } else if (e.event_type === 'StepFinished' || e.event_type === 'StepFailed') {
      expect(attempt, `${flowId}: an outcome of an attempt that was not running`).toBe(open);
      open = null;
      if (e.event_type === 'StepFailed') failed += 1;
    }
  }
  expect(open, flowId).toBeNull();
  expect(log.at(-1), flowId).toMatchObject({ event_type: 'FlowCompleted', payload: { flowFingerprint: fingerprint } });
  return failed;
}

/**
 * The steps' own record of one flow: each attempt ran in one process at most once (one start line),
 * only attempts of the log ran, every finished attempt ran to its end, every attempt that did not end
 * belongs to a killed worker, and no two attempts of the flow ever overlapped in time (an attempt whose
 * worker was killed counts as running until the kill).
 */
function checkSideEffects(flowId: string, log: readonly EventRow[], runs: readonly Execution[], killedAt: ReadonlyMap<number, number>): void {
  const key = (x: { stepId?: string | undefined; attempt?: number | undefined }) => `${x.stepId}#${x.attempt}`;
  const starts = runs.filter((x) => x.what === 'start');
  const ends = new Map(runs.filter((x) => x.what === 'end').map((x) => [key(x), x]));
  expect(new Set(starts.map(key)).size, `${flowId}: an attempt started twice`).toBe(starts.length);
  expect(runs.filter((x) => x.what === 'end').length, `${flowId}: an attempt ended twice`).toBe(ends.size);

  const started = new Set(log.filter((e) => e.event_type === 'StepStarted').map((e) => key(e.payload)));
  for (const s of starts) expect(started.has(key(s)), `${flowId}: ${key(s)} ran without a StepStarted`).toBe(true);
  for (const f of log.filter((e) => e.event_type === 'StepFinished')) {
    const s = starts.find((x) => key(x) === key(f.payload));
    expect(s, `${flowId}: ${key(f.payload)} finished without running`).toBeDefined();
    expect(ends.get(key(f.payload))?.pid, `${flowId}: ${key(f.payload)} finished elsewhere`).toBe(s?.pid);
  }

  const intervals = starts
    .map((s) => {
      const end = ends.get(key(s));
      const until = end?.at ?? killedAt.get(s.pid);
      expect(until, `${flowId}: ${key(s)} in pid ${s.pid} never ended and its worker was not killed`).toBeDefined();
      if (end !== undefined) expect(end.pid, `${flowId}: ${key(s)} ended in another process`).toBe(s.pid);
      return { attempt: key(s), from: s.at, to: until ?? Infinity };
    })
    .sort((a, b) => a.from - b.from);
  for (let i = 1; i < intervals.length; i++) {
    const [before, after] = [intervals[i - 1], intervals[i]];
    expect(after?.from, `${flowId}: ${after?.attempt} started while ${before?.attempt} was running`).toBeGreaterThanOrEqual(before?.to ?? 0);
  }
}
