// Cancelling a flow in the middle of a mapped step, with real worker processes, on PostgreSQL and on the
// embedded database (PGlite): afterwards no step and no shard is Running once its attempt ended or its
// holder is gone, and no row of the flow's shards is due in flow_shards.
//
// PGlite is one process's database, so there the worker is stopped before `cancel`: once gracefully
// (SIGTERM: its shards in flight finish, the others never start) and once killed mid-shard (SIGKILL). On
// PostgreSQL two workers share the flow: it is cancelled once with both alive, and once after its
// coordinator (the worker holding the flow) was SIGKILLed while the other still runs shards.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPgliteStore } from '../../src/stores/open-store.js';
import { adminQuery, pgAvailable } from '../helpers/pg.js';
import { chemflow, ensureBuilt, workspace, type CliResult, type Workspace } from './support/cli.js';
import { background, createPgDb, waitUntil, type Background } from './support/processes.js';

beforeAll(ensureBuilt, 180_000);

/** `items` gives 0..39; `square` (mapped, one item per shard: 40 shards) logs `flowId shard attempt pid start|end` and takes 250 ms. */
const STEPS = `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
const log = (ctx, what) => appendFileSync(join(ctx.baseDir, 'shards.log'), \`\${ctx.flowId} \${ctx.shard?.index ?? 'whole'} \${ctx.attempt} \${process.pid} \${what}\\n\`);
const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
});
export const items = {
  kind: 'source',
  run() {
    return { outputs: [{ kind: 'test/items', payload: { items: Array.from({ length: 40 }, (_, i) => i) } }] };
  },
};
export const square = {
  kind: 'transform',
  async run(ctx) {
    log(ctx, 'start');
    await sleep(250, ctx.signal);
    log(ctx, 'end');
    return { outputs: [{ kind: 'test/items', payload: { items: ctx.input[0].payload.items.map((x) => x * x) } }] };
  },
};
`;

const FLOW = `name: squares
steps:
  - { id: items, uses: ./steps/shards.mjs#items }
  - id: square
    uses: ./steps/shards.mjs#square
    map: { over: items, shardSize: 1 }
`;

// A lease that a loaded machine's heartbeat surely renews: a live holder is never taken for a gone one.
const WORKER = ['worker', '--json', '--concurrency', '2', '--lease-ms', '5000', '--heartbeat-ms', '300', '--poll-ms', '200'];

interface StoredEvent {
  type: string;
  stepId?: string;
  shard?: { index: number; count: number };
  error?: { code: string };
}

interface Status {
  status: string;
  steps: { stepId: string; status: string; shards: { total: number; finished: number; failed: number; running: number } | null }[];
}

interface ShardRun {
  shard: number;
  pid: number;
  what: string;
}

async function shardRuns(dir: string, flowId: string): Promise<ShardRun[]> {
  const text = await readFile(join(dir, 'shards.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${flowId} `))
    .map((l) => {
      const [, shard = '', , pid = '', what = ''] = l.split(' ');
      return { shard: Number(shard), pid: Number(pid), what };
    });
}

interface Backend {
  name: string;
  skip: boolean;
  /** `--db` for a fresh database; how to count a flow's due shard rows (with every process stopped, for PGlite); how to remove it. */
  open(ws: Workspace): Promise<Opened>;
}

interface Opened {
  location: string;
  /** The PostgreSQL schema; null for PGlite. */
  schema: string | null;
  dueShardRows: (flowIds: string[]) => Promise<number>;
  drop: () => Promise<void>;
}

const DUE_ROWS = 'SELECT count(*)::int AS n FROM flow_shards WHERE flow_id = ANY($1::uuid[]) AND due_at IS NOT NULL';

const BACKENDS: Backend[] = [
  {
    name: 'PostgreSQL',
    skip: !pgAvailable,
    open: async () => {
      const db = await createPgDb('cancel_shards');
      const dueShardRows = async (flowIds: string[]) =>
        (await adminQuery<{ n: number }>(DUE_ROWS.replace('flow_shards', `${db.schema}.flow_shards`), [flowIds]))[0]?.n ?? -1;
      return { location: db.url, schema: db.schema, dueShardRows, drop: db.drop };
    },
  },
  {
    name: 'PGlite',
    skip: false,
    open: (ws) => {
      const location = join(ws.dir, 'db');
      const dueShardRows = async (flowIds: string[]) => {
        const store = await openPgliteStore(location);
        try {
          return (await store.executor.query<{ n: number }>(DUE_ROWS, [flowIds]))[0]?.n ?? -1;
        } finally {
          await store.close();
        }
      };
      return Promise.resolve({ location, schema: null, dueShardRows, drop: () => Promise.resolve() });
    },
  },
];

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(`cancelling a mapped step's flow on ${backend.name}`, () => {
    let ws: Workspace;
    let location: string;
    let schema: string | null;
    let dueShardRows: (flowIds: string[]) => Promise<number>;
    let drop: () => Promise<void>;
    let workers: Background[] = [];
    const cli = (...args: string[]): Promise<CliResult> => chemflow(['--db', location, ...args], { cwd: ws.dir, timeoutMs: 120_000 });
    const json = async <T>(...args: string[]): Promise<T> => {
      const result = await cli(...args, '--json');
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as T;
    };
    const submit = async (): Promise<string> => (await json<{ flowId: string }>('submit', 'squares.yaml')).flowId;
    const startWorker = async (): Promise<Background> => {
      const w = background(['--db', location, ...WORKER], ws.dir);
      workers.push(w);
      await waitUntil(() => w.stderr().includes('Worker '), 'a worker to start', 90_000);
      return w;
    };
    const shardsEnded = (flowId: string, n: number, pids = 1) => async () => {
      const ends = (await shardRuns(ws.dir, flowId)).filter((r) => r.what === 'end');
      return ends.length >= n && new Set(ends.map((r) => r.pid)).size >= pids;
    };
    const square = (status: Status) => status.steps.find((s) => s.stepId === 'square');
    /** Cancels the flow; then its mapped step ends (at once, or when a live holder records its shard). */
    const cancelAndSettle = async (flowId: string): Promise<{ after: StoredEvent[]; stderr: string }> => {
      const cancelled = await cli('cancel', flowId, '--json');
      expect(cancelled.code, cancelled.stderr).toBe(0);
      const settled = await waitUntil(
        async () => {
          const status = await json<Status>('status', flowId);
          const step = square(status);
          return step?.status !== 'Running' && step?.shards?.running === 0 ? status : undefined;
        },
        'the mapped step to end',
        60_000,
        300,
      );
      expect(settled.status).toBe('cancelled');
      expect(square(settled)).toMatchObject({ status: 'Failed', shards: { total: 40, running: 0 } });
      const events = await json<StoredEvent[]>('events', flowId);
      const after = events.slice(events.findIndex((e) => e.type === 'FlowCancelled') + 1);
      // Only outcomes of attempts in flight and the step's own end follow the cancellation: nothing starts.
      expect(after.filter((e) => e.type !== 'StepFinished' && e.type !== 'StepFailed' && e.type !== 'StepSignal')).toEqual([]);
      return { after, stderr: cancelled.stderr };
    };
    const lostShards = (after: StoredEvent[]) =>
      after.filter((e) => e.type === 'StepFailed' && e.error?.code === 'WORKER_LOST').map((e) => e.shard?.index ?? -1);

    beforeAll(async () => {
      ws = await workspace();
      ({ location, schema, dueShardRows, drop } = await backend.open(ws));
      await ws.write('steps/shards.mjs', STEPS);
      await ws.write('squares.yaml', FLOW);
    }, 120_000);
    afterEach(async () => {
      for (const w of workers) w.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
      workers = [];
    });
    afterAll(async () => {
      await drop();
      await ws.remove();
    });

    if (backend.name === 'PGlite')
      it('after a worker stopped between shards and after one killed mid-shard, cancel ends the step and closes its shards', { timeout: 420_000 }, async () => {
        // Stopped gracefully: its shards in flight finished, no shard is Running, the step is.
        const stopped = await submit();
        const first = await startWorker();
        await waitUntil(shardsEnded(stopped, 4), 'shards to finish', 120_000);
        first.kill('SIGTERM');
        expect(await first.exited, first.stderr()).toBe(0);
        const before = square(await json<Status>('status', stopped));
        expect(before).toMatchObject({ status: 'Running', shards: { running: 0 } });
        const graceful = await cancelAndSettle(stopped);
        expect(graceful.after).toMatchObject([{ type: 'StepFailed', stepId: 'square', error: { code: 'FLOW_CANCELLED' } }]);
        expect(graceful.after[0]?.shard).toBeUndefined();
        expect(graceful.stderr).toContain('Ended step square as cancelled');

        // Killed mid-shard: the shards it ran are recorded as lost, then the step ends.
        const killed = await submit();
        const second = await startWorker();
        await waitUntil(shardsEnded(killed, 4), 'shards to finish', 120_000);
        second.kill('SIGKILL');
        await second.exited;
        const { after } = await cancelAndSettle(killed);
        const runs = await shardRuns(ws.dir, killed);
        const unfinished = runs.filter((r) => r.what === 'start' && !runs.some((e) => e.what === 'end' && e.shard === r.shard)).map((r) => r.shard);
        expect(lostShards(after)).toEqual(expect.arrayContaining(unfinished));

        expect(await dueShardRows([stopped, killed])).toBe(0);
      });

    if (backend.name === 'PostgreSQL')
      it('with two live workers, and after the coordinator was killed while the other ran shards, the step ends and no shard row stays due', { timeout: 420_000 }, async () => {
        const [a, b] = [await startWorker(), await startWorker()];

        // Both alive: their shards in flight record their own outcome; nothing is lost.
        const live = await submit();
        await waitUntil(shardsEnded(live, 6), 'shards to finish', 120_000);
        const together = await cancelAndSettle(live);
        expect(lostShards(together.after)).toEqual([]);

        // The coordinator killed: its shards are lost, the other worker's record their own outcome.
        const orphaned = await submit();
        await waitUntil(shardsEnded(orphaned, 6, 2), 'shards to finish in both workers', 120_000);
        const [row] = await adminQuery<{ owner: string }>(
          `SELECT lease_owner AS owner FROM ${schema ?? 'public'}.flow_queue WHERE flow_id = $1::uuid`,
          [orphaned],
        );
        const coordinatorPid = Number(row?.owner.split(':')[1]);
        const coordinator = [a, b].find((w) => w?.pid === coordinatorPid);
        const survivor = [a, b].find((w) => w !== coordinator);
        expect(coordinator, `the coordinator ${row?.owner} is one of the workers`).toBeDefined();
        coordinator?.kill('SIGKILL');
        await coordinator?.exited;
        const { after } = await cancelAndSettle(orphaned);
        const runs = await shardRuns(ws.dir, orphaned);
        const ranIn = (pid: number | undefined) => new Set(runs.filter((r) => r.pid === pid).map((r) => r.shard));
        const survivors = ranIn(survivor?.pid);
        expect(lostShards(after).filter((shard) => survivors.has(shard))).toEqual([]);
        const unfinished = [...ranIn(coordinatorPid)].filter((shard) => !runs.some((r) => r.what === 'end' && r.shard === shard));
        expect(lostShards(after)).toEqual(expect.arrayContaining(unfinished));

        expect(await dueShardRows([live, orphaned])).toBe(0);
        survivor?.kill('SIGTERM');
        expect(await survivor?.exited, survivor?.stderr()).toBe(0);
      });
  });
}
