// Worker processes for the e2e tests: started, killed (by the pid the test started, nothing else) and
// checked afterwards against the log, whatever the recovery mechanism is.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { FlowStore } from '../../../src/stores/flow-store.js';
import { chemflow, spawnCli } from './cli.js';

/**
 * The one place that knows how the attempt of a worker the test killed is taken over: it holds its
 * flows under a lease, and another worker takes them once the lease expires. Workers a test may kill
 * run with a short lease (`SHORT_LEASE`); after a kill, `afterLeaseExpiry()` waits it out.
 */
const SHORT_LEASE_MS = 1_500;
export const SHORT_LEASE: readonly string[] = ['--lease-ms', String(SHORT_LEASE_MS), '--heartbeat-ms', '300'];

/** Waits until the leases of a worker killed just now have expired. */
export function afterLeaseExpiry(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SHORT_LEASE_MS + 500));
}

export interface WorkerProcess {
  pid: number;
  /** Resolves when the process has exited, with everything it wrote. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  hasExited(): boolean;
  /** SIGKILL to this process only; resolves once it is gone. */
  kill(): Promise<void>;
}

/** Workers started by this test file and not yet exited. */
const alive = new Set<WorkerProcess>();

/** For `afterEach`: SIGKILLs the workers this file started that a failed test left running (and no other process). */
export async function killLeftoverWorkers(): Promise<void> {
  await Promise.all([...alive].map((worker) => worker.kill()));
}

/** Starts `chemflow --db <db> worker ...args` in `cwd`. */
export function startWorker(db: string, cwd: string, args: readonly string[]): WorkerProcess {
  const child = spawnCli(['--db', db, 'worker', ...args], { cwd });
  let stdout = '';
  let stderr = '';
  let done = false;
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      done = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  if (child.pid === undefined) throw new Error('the worker process did not start');
  const worker: WorkerProcess = {
    pid: child.pid,
    exited,
    hasExited: () => done,
    async kill() {
      if (!done) child.kill('SIGKILL');
      await exited;
    },
  };
  alive.add(worker);
  const forget = (): boolean => alive.delete(worker);
  exited.then(forget, forget);
  return worker;
}

/** `name: many`: a source and `count - 1` increments, each quick and logging its execution; lost attempts retried at once. */
export function manyStepsFlow(count: number): string {
  const ids = Array.from({ length: count }, (_, i) => `s${String(i).padStart(2, '0')}`);
  return [
    'name: many',
    `retry: { maxRetries: ${count * 4}, backoff: { kind: none } }`,
    'steps:',
    ...ids.map((id, i) => `  - { id: ${id}, uses: ./steps/logged.mjs#${i === 0 ? 'source' : 'increment'} }`),
    '',
  ].join('\n');
}

/** Each execution of a step appends `flowId stepId attempt pid` to executions.log beside the flow file. */
export const LOGGED_STEPS = `import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const file = (ctx) => join(ctx.baseDir, 'executions.log');
const log = (ctx) => appendFileSync(file(ctx), \`\${ctx.flowId} \${ctx.stepId} \${ctx.attempt} \${process.pid}\\n\`);
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
export const source = {
  kind: 'source',
  run(ctx) { log(ctx); return { outputs: [{ kind: 'number', payload: { n: 1 } }] }; },
};
export const increment = {
  kind: 'transform',
  run(ctx) { log(ctx); return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n + 1 } }] }; },
};
// Waits (at most a minute) until steps of two different processes have run: started by two workers at
// once, each surely gets some of the work, however the machine schedules them.
export const rendezvous = {
  kind: 'source',
  async run(ctx) {
    log(ctx);
    const pids = () => new Set(readFileSync(file(ctx), 'utf8').trim().split('\\n').map((l) => l.split(' ')[3])).size;
    for (const deadline = Date.now() + 60_000; existsSync(file(ctx)) && pids() < 2 && Date.now() < deadline; ) await pause(50);
    return { outputs: [{ kind: 'number', payload: { n: 1 } }] };
  },
};
export const slowIncrement = {
  kind: 'transform',
  async run(ctx) {
    log(ctx);
    await pause(15);
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n + 1 } }] };
  },
};
`;

export interface Execution {
  flowId: string;
  stepId: string;
  attempt: number;
  pid: number;
}

export async function readExecutions(dir: string): Promise<Execution[]> {
  const text = await readFile(join(dir, 'executions.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [flowId = '', stepId = '', attempt = '0', pid = '0'] = line.split(' ');
      return { flowId, stepId, attempt: Number(attempt), pid: Number(pid) };
    });
}

/**
 * Runs `worker --once` (taking over killed workers' attempts) until every flow is completed: however the
 * lost attempts are recovered, the flows must end.
 */
export async function finishFlows(db: string, cwd: string, flowIds: readonly string[], timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const worker = await chemflow(['--db', db, 'worker', '--once', '--concurrency', '2', '--poll-ms', '20', ...SHORT_LEASE], { cwd });
    const listed = await chemflow(['--db', db, 'flows', '--json'], { cwd });
    const statuses = new Map((JSON.parse(listed.stdout) as { flowId: string; status: string }[]).map((f) => [f.flowId, f.status]));
    const open = flowIds.filter((id) => statuses.get(id) !== 'completed');
    if (open.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`flows still open after ${timeoutMs / 1000} s: ${open.map((id) => `${id} ${statuses.get(id)}`).join(', ')}\n${worker.stderr}`);
  }
}

/** What the checks below found, for the test to report and bound. */
export interface LogCheck {
  lostAttempts: number;
  attempts: number;
}

/**
 * The durability invariants of one flow after crashes, read from its store: versions 1..n with no gap;
 * every attempt of every step started once and ended once (a `StepFailed` WORKER_LOST or the one
 * `StepFinished`), in order; one `step_execution_errors` row per `StepFailed`, no more; no attempt
 * executed twice; nothing executed without its `StepStarted`; one `FlowCompleted`, last, with the
 * fingerprint of a clean run.
 */
export async function checkCrashedFlow(store: FlowStore, flowId: string, executions: readonly Execution[], cleanFingerprint: string): Promise<LogCheck> {
  const events = await store.list(flowId);
  expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
  expect(events[0]?.type).toBe('FlowInitialized');
  expect(events.filter((e) => e.type === 'FlowCompleted')).toHaveLength(1);
  const last = events.at(-1);
  expect(last?.type === 'FlowCompleted' && last.flowFingerprint).toBe(cleanFingerprint);

  const open = new Map<string, number>();
  const attempts = new Map<string, number>();
  const finished = new Set<string>();
  const failed: string[] = [];
  for (const event of events) {
    const where = `event ${event.version} (${event.type})`;
    if (event.type === 'StepStarted') {
      expect(open.has(event.stepId), `${where}: ${event.stepId} already has an attempt open`).toBe(false);
      expect(event.attempt, `${where}: attempts of ${event.stepId} numbered without gap`).toBe((attempts.get(event.stepId) ?? 0) + 1);
      expect(finished.has(event.stepId), `${where}: ${event.stepId} started after it finished`).toBe(false);
      open.set(event.stepId, event.attempt);
      attempts.set(event.stepId, event.attempt);
    } else if (event.type === 'StepFinished' || event.type === 'StepFailed') {
      expect(open.get(event.stepId), `${where}: ends the open attempt of ${event.stepId}`).toBe(event.attempt);
      open.delete(event.stepId);
      if (event.type === 'StepFinished') finished.add(event.stepId);
      else {
        expect([event.errorClass, event.error.code], where).toEqual(['Transient', 'WORKER_LOST']);
        failed.push(`${event.stepId} ${event.attempt}`);
      }
    }
  }
  expect([...open.keys()], 'attempts left open').toEqual([]);

  const rows = await store.listErrors(flowId);
  expect(rows.map((r) => `${r.stepId} ${r.attemptNumber}`).sort(), 'one error row per StepFailed').toEqual([...failed].sort());

  const ran = executions.filter((e) => e.flowId === flowId).map((e) => `${e.stepId} ${e.attempt}`);
  expect(ran.filter((key, i) => ran.indexOf(key) !== i), 'attempts executed twice').toEqual([]);
  const started = new Set(events.flatMap((e) => (e.type === 'StepStarted' ? [`${e.stepId} ${e.attempt}`] : [])));
  expect(ran.filter((key) => !started.has(key)), 'executions without a StepStarted').toEqual([]);
  const finishedAttempts = events.flatMap((e) => (e.type === 'StepFinished' ? [`${e.stepId} ${e.attempt}`] : []));
  expect(finishedAttempts.filter((key) => !ran.includes(key)), 'finished attempts that never ran').toEqual([]);
  return { lostAttempts: failed.length, attempts: started.size };
}
