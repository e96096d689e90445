// `chemflow cancel` of pending, waiting (retry not yet due) and running flows, on
// PostgreSQL and on the embedded database (PGlite), with real processes.
//
// PGlite is one process's database: two processes must never open the same directory at once. So on
// PGlite the worker is always stopped before `cancel` runs, and the "running" flow is an interrupted
// one (its worker killed mid-step: `running` in the queue, a Running attempt in the log). A live attempt
// stopped through `ctx.signal` at the worker's next heartbeat is shown on PostgreSQL, where a worker and
// `chemflow cancel` share the database.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAvailable } from '../helpers/pg.js';
import { chemflow, ensureBuilt, workspace, type CliResult, type Workspace } from './support/cli.js';
import { background, createPgDb, fileExists, readExecutions, RECORDING_STEPS, waitUntil, workerLines } from './support/processes.js';

beforeAll(ensureBuilt, 180_000);

/** seed → hold (waits for release.marker, honours ctx.signal) → bump. */
const HELD_FLOW = `name: held
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/recording.mjs#source }
  - { id: hold, uses: ./steps/recording.mjs#hold }
  - { id: bump, uses: ./steps/recording.mjs#increment }
`;

/** busy fails Transient once; its retry is due in ten minutes at the earliest. */
const WAITING_FLOW = `name: waiting
retry: { maxRetries: 2, backoff: { kind: exponential, baseMs: 600000 } }
steps:
  - { id: seed, uses: ./steps/recording.mjs#source }
  - { id: busy, uses: ./steps/recording.mjs#busy }
  - { id: bump, uses: ./steps/recording.mjs#increment }
`;

const SHORT_FLOW = `name: short
steps:
  - { id: seed, uses: ./steps/recording.mjs#source }
  - { id: bump, uses: ./steps/recording.mjs#increment }
`;

interface StoredEvent {
  type: string;
  version: number;
  stepId?: string;
  attempt?: number;
  errorClass?: string;
  error?: { code: string };
  reason?: string | null;
}

interface Backend {
  name: string;
  skip: boolean;
  /** `--db` for a fresh database, and how to remove it. */
  open(ws: Workspace): Promise<{ location: string; drop: () => Promise<void> }>;
  /** Whether a worker and another command may use the database at the same time. */
  shared: boolean;
}

const BACKENDS: Backend[] = [
  {
    name: 'PostgreSQL',
    skip: !pgAvailable,
    shared: true,
    open: async () => {
      const db = await createPgDb('cancel');
      return { location: db.url, drop: db.drop };
    },
  },
  { name: 'PGlite', skip: false, shared: false, open: (ws) => Promise.resolve({ location: join(ws.dir, 'db'), drop: () => Promise.resolve() }) },
];

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(`chemflow cancel on ${backend.name}`, () => {
    let ws: Workspace;
    let location: string;
    let drop: () => Promise<void>;
    const cli = (...args: string[]): Promise<CliResult> => chemflow(['--db', location, ...args], { cwd: ws.dir, timeoutMs: 120_000 });
    const json = async <T>(...args: string[]): Promise<T> => {
      const result = await cli(...args, '--json');
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as T;
    };
    const events = (flowId: string) => json<StoredEvent[]>('events', flowId);
    const submit = async (file: string): Promise<string> => (await json<{ flowId: string }>('submit', file)).flowId;
    const worker = (...args: string[]) => background(['--db', location, 'worker', '--json', '--poll-ms', '200', ...args], ws.dir);
    /** Cancelled flows, with their logs at the time of cancelling, for the final checks. */
    const cancelled = new Map<string, StoredEvent[]>();

    /** Cancels, then checks the status, the listing and a second cancel (exit 2, nothing appended). */
    async function cancelAndCheck(flowId: string, reason: string): Promise<StoredEvent[]> {
      const before = await events(flowId);
      const result = await cli('cancel', flowId, '--reason', reason, '--json');
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ flowId, status: 'cancelled', reason, version: before.length + 1 });
      expect(await json('status', flowId)).toMatchObject({ flowId, status: 'cancelled' });
      const listed = await json<{ flowId: string; status: string }[]>('flows', '--status', 'cancelled', '--limit', '1000');
      expect(listed.map((f) => f.flowId)).toContain(flowId);
      const after = await events(flowId);
      expect(after.slice(0, before.length)).toEqual(before);
      expect(after[before.length]).toMatchObject({ type: 'FlowCancelled', reason, version: before.length + 1 });

      const again = await cli('cancel', flowId);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain('cancelled');
      cancelled.set(flowId, after);
      return after;
    }

    beforeAll(async () => {
      ws = await workspace();
      ({ location, drop } = await backend.open(ws));
      await ws.write('steps/recording.mjs', RECORDING_STEPS);
      await ws.write('held.yaml', HELD_FLOW);
      await ws.write('waiting.yaml', WAITING_FLOW);
      await ws.write('short.yaml', SHORT_FLOW);
    }, 120_000);
    afterAll(async () => {
      await drop();
      await ws.remove();
    });

    it('a pending flow (submitted, no worker yet)', { timeout: 420_000 }, async () => {
      const flowId = await submit('held.yaml');
      const log = await cancelAndCheck(flowId, 'not needed after all');
      expect(log.map((e) => e.type)).toEqual(['FlowInitialized', 'FlowCancelled']);
    });

    it('a waiting flow (its retry not yet due)', { timeout: 420_000 }, async () => {
      const flowId = await submit('waiting.yaml');
      const w = worker();
      await waitUntil(async () => (await readExecutions(ws.dir)).some((x) => x.flowId === flowId && x.stepId === 'busy'), 'busy to fail', 90_000);
      w.kill('SIGTERM'); // the attempt in flight records its failure and retry first
      expect(await w.exited, w.stderr()).toBe(0);

      const waiting = await json<{ flowId: string; status: string }[]>('flows', '--status', 'waiting');
      expect(waiting.map((f) => f.flowId)).toEqual([flowId]);
      const log = await cancelAndCheck(flowId, 'the upstream service is gone');
      expect(log.map((e) => e.type)).toEqual([
        'FlowInitialized',
        'StepStarted',
        'StepFinished',
        'StepStarted',
        'StepFailed',
        'RetryScheduled',
        'FlowCancelled',
      ]);
    });

    it(
      backend.shared
        ? 'a running flow: the attempt in flight is stopped at the next heartbeat and its outcome recorded after the cancel'
        : 'a running flow (interrupted: its worker was killed mid-step): cancel records the attempt it left as lost',
      { timeout: 420_000 },
      async () => {
        const flowId = await submit('held.yaml');
        const w = worker('--heartbeat-ms', '200');
        await waitUntil(fileExists(join(ws.dir, `started-${flowId}-1.marker`)), 'the hold step to start', 90_000);
        if (!backend.shared) {
          w.kill('SIGKILL');
          await w.exited;
          expect(await json('status', flowId)).toMatchObject({ status: 'running' });
          const log = await cancelAndCheck(flowId, 'stop it');
          expect(log.map((e) => `${e.type}${e.stepId === undefined ? '' : ` ${e.stepId}#${e.attempt}`}`)).toEqual([
            'FlowInitialized',
            'StepStarted seed#1',
            'StepFinished seed#1',
            'StepStarted hold#1',
            'FlowCancelled',
            'StepFailed hold#1', // its worker is gone: nothing would ever record it, so cancel does
          ]);
          expect(log[5]).toMatchObject({ errorClass: 'Transient', error: { code: 'WORKER_LOST' } });
          expect(await json('status', flowId)).toMatchObject({ status: 'cancelled' });
          return;
        }

        const result = await cli('cancel', flowId, '--reason', 'stop it', '--json');
        expect(result.code, result.stderr).toBe(0);
        const line = await waitUntil(() => workerLines(w.stdout()).find((l) => l.flowId === flowId), 'the worker to give the flow up', 60_000, 50);
        expect(line).toMatchObject({ outcome: 'cancelled', status: 'cancelled' });
        w.kill('SIGTERM');
        expect(await w.exited, w.stderr()).toBe(0);

        const log = await events(flowId);
        expect(log.map((e) => `${e.type}${e.stepId === undefined ? '' : ` ${e.stepId}#${e.attempt}`}`)).toEqual([
          'FlowInitialized',
          'StepStarted seed#1',
          'StepFinished seed#1',
          'StepStarted hold#1',
          'FlowCancelled',
          'StepFailed hold#1', // the outcome of the attempt in flight, after the cancel; nothing started
        ]);
        expect(log[5]).toMatchObject({ errorClass: 'Permanent', error: { code: 'FLOW_CANCELLED' } });
        const errors = await json<{ stepId: string; attemptNumber: number; errorClass: string; details: { error_code: string } }[]>('errors', flowId);
        expect(errors.map((e) => [e.stepId, e.attemptNumber, e.errorClass, e.details.error_code])).toEqual([['hold', 1, 'Permanent', 'FLOW_CANCELLED']]);
        // The step saw ctx.signal: it started and never returned.
        const runs = (await readExecutions(ws.dir)).filter((x) => x.flowId === flowId && x.stepId === 'hold');
        expect(runs.map((x) => x.what)).toEqual(['start']);
        expect(await json('status', flowId)).toMatchObject({ status: 'cancelled' });

        const again = await cli('cancel', flowId);
        expect(again.code).toBe(2);
        expect(await events(flowId)).toEqual(log);
        cancelled.set(flowId, log);
      },
    );

    it('a completed flow cannot be cancelled: exit 2, nothing appended', { timeout: 420_000 }, async () => {
      const run = await json<{ flowId: string; status: string }>('run', 'short.yaml', '--quiet');
      expect(run.status).toBe('completed');
      const before = await events(run.flowId);
      const result = await cli('cancel', run.flowId);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('completed');
      expect(await events(run.flowId)).toEqual(before);
      expect(await json('status', run.flowId)).toMatchObject({ status: 'completed' });
    });

    it('afterwards a worker finds nothing to run: no step starts after a FlowCancelled', { timeout: 420_000 }, async () => {
      expect([...cancelled.keys()]).toHaveLength(3);
      const linesBefore = (await readExecutions(ws.dir)).length;
      const result = await cli('worker', '--once', '--json');
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('');
      expect(await readExecutions(ws.dir)).toHaveLength(linesBefore);
      for (const [flowId, log] of cancelled) expect(await events(flowId)).toEqual(log);
      const listed = await json<{ flowId: string }[]>('flows', '--status', 'cancelled');
      expect(listed.map((f) => f.flowId).sort()).toEqual([...cancelled.keys()].sort());
    });
  });
}
