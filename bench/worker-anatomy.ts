// Where a one-slot worker's flow goes, today's against the worker before the flow queue, in the same run:
// each version's FlowWorker (concurrency 1) runs `flows` 10-step no-op flows, submitted beforehand
// (untimed), to the end (`untilIdle`), in a schema of its own, the two versions in turn for `rounds`
// rounds (which goes first alternates). Every statement of the worker is timed at its store's executor,
// from the call to the answer (the Node work between statements is outside), and sorted by what it does;
// the WAL the server wrote while the worker ran is read from `pg_current_wal_lsn()` (the whole server's:
// nothing else should write meanwhile), the worker process's CPU from `process.cpuUsage()`.
import { FlowEngine, FlowWorker } from '../src/index.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import { noopFlow, RETRY_AT_ONCE, STEPS_PER_FLOW } from './flows.js';
import { adminQuery, BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import type { PrequeueEngine } from './prequeue-build.js';
import { median, sample, type Sample } from './stats.js';

/** What a worker's statement does. */
export type StatementKind =
  /** Today's claim of a flow (its lease), which returns the flow's log. */
  | 'claim'
  /** The worker before the queue: a flow's log read, and the listing of every flow on each pass. */
  | 'read'
  | 'list'
  /** A step's append (a step's outcome and the next step's start) that leaves the queue row as it is. */
  | 'append'
  /** An append that writes the flow's queue row too (today: the one that starts a pending flow). */
  | 'append writing the queue row'
  /** The append of `FlowCompleted` (today it clears the lease and closes the queue row). */
  | 'closing append'
  | 'other';

export interface StatementCost {
  kind: StatementKind;
  /** Statements of this kind per flow. */
  perFlow: number;
  /** Median time on the wire, µs (all rounds together). */
  medianUs: number;
  /** Their time per flow, ms: median of per-round sums ÷ flows. */
  msPerFlow: number;
}

export interface AnatomySide {
  /** Wall time per flow, ms. */
  msPerFlow: Sample;
  /** Of which in statements (from call to answer), ms. */
  statementMsPerFlow: Sample;
  /** CPU of the worker's process per step (user + system), µs. */
  cpuUsPerStep: Sample;
  /** WAL written per flow, bytes. */
  walBytesPerFlow: Sample;
  statements: StatementCost[];
}

export interface WorkerAnatomy {
  flows: number;
  rounds: number;
  now: AnatomySide;
  before: AnatomySide;
  /** now / before, medians of per-round ratios. */
  ratios: { msPerFlow: number; statementMsPerFlow: number; cpuUsPerStep: number; walBytesPerFlow: number };
}

interface Executor {
  query(text: string, values?: readonly unknown[]): Promise<unknown[]>;
}

/** The worker's statements of the round being timed, by kind (call to answer, ms). */
type Timings = Map<StatementKind, number[]>;

/** One version's store, worker and submitter, as the round needs them. */
interface Version {
  /** Where the worker's statements are timed while a round sets it. */
  timing: { into: Timings | null };
  submit(): Promise<unknown>;
  runUntilIdle(): Promise<number>;
  close(): Promise<void>;
}

/** Times every statement of `executor` into `timing.into` while it is set (once per store: nothing to undo). */
function timed(executor: Executor): Version['timing'] {
  const timing: Version['timing'] = { into: null };
  const query = executor.query.bind(executor);
  executor.query = async (text, values = []) => {
    const into = timing.into;
    if (into === null) return query(text, values);
    const started = performance.now();
    try {
      return await query(text, values);
    } finally {
      const kind = statementKind(text, values);
      const list = into.get(kind) ?? [];
      list.push(performance.now() - started);
      into.set(kind, list);
    }
  };
  return timing;
}

interface Round {
  ms: number;
  statementMs: number;
  cpuUs: number;
  walBytes: number;
  byKind: Map<StatementKind, number[]>;
}

const SUBMITTERS = 8;

export function statementKind(text: string, values: readonly unknown[]): StatementKind {
  if (text.includes('INSERT INTO event_log')) {
    if (typeof values[2] === 'string' && values[2].includes('"FlowCompleted"')) return 'closing append';
    return /UPDATE flow_queue|INSERT INTO flow_queue/.test(text) ? 'append writing the queue row' : 'append';
  }
  if (text.includes('SKIP LOCKED')) return 'claim';
  if (text.includes('FROM event_log first')) return 'list';
  if (text.startsWith('SELECT seq')) return 'read';
  return 'other';
}

async function walPosition(): Promise<string> {
  const [row] = await adminQuery<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return row?.lsn ?? '0/0';
}

async function walSince(from: string): Promise<number> {
  const [row] = await adminQuery<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS bytes', [from]);
  return Number(row?.bytes ?? Number.NaN);
}

async function runRound(version: Version, flows: number): Promise<Round> {
  let left = flows;
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async () => {
      while (left-- > 0) await version.submit();
    }),
  );
  const byKind: Timings = new Map();
  version.timing.into = byKind;
  try {
    const wal = await walPosition();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const ran = await version.runUntilIdle();
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const walBytes = await walSince(wal);
    if (ran !== flows) throw new Error(`worker anatomy: the worker ran ${ran} flows, ${flows} were submitted`);
    const statementMs = [...byKind.values()].flat().reduce((a, b) => a + b, 0);
    return { ms, statementMs, cpuUs: used.user + used.system, walBytes, byKind };
  } finally {
    version.timing.into = null;
  }
}

async function openToday(): Promise<Version> {
  const schema = await createBenchSchema('anatomy_now');
  const submitStore = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: SUBMITTERS });
  const store = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: 2 });
  const engine = new FlowEngine({ store: submitStore, retryPolicy: RETRY_AT_ONCE });
  const worker = new FlowWorker({ store, resolve: () => Promise.resolve({ definition: noopFlow, retryPolicy: RETRY_AT_ONCE }) });
  return {
    timing: timed(store.executor),
    submit: () => engine.startFlow(noopFlow),
    runUntilIdle: async () => (await worker.run({ untilIdle: true })).filter((o) => o.kind === 'completed').length,
    close: async () => {
      await Promise.all([store.close(), submitStore.close()]);
      await schema.drop();
    },
  };
}

async function openBefore(old: PrequeueEngine): Promise<Version> {
  const schema = await createBenchSchema('anatomy_before');
  const open = (max: number) => old.stores.openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max });
  const submitStore = await open(SUBMITTERS);
  const store = await open(2);
  const flow = old.index.defineFlow(
    'bench-noop',
    Array.from({ length: STEPS_PER_FLOW }, (_, i) => ({ id: `step-${i}`, kind: i === 0 ? 'source' : 'transform', baseParams: {}, run: () => ({ outputs: [] }) })),
  );
  const engine = new old.index.FlowEngine({ store: submitStore, retryPolicy: RETRY_AT_ONCE });
  const worker = new old.index.FlowWorker({ store, resolve: () => Promise.resolve({ definition: flow, retryPolicy: RETRY_AT_ONCE }) });
  return {
    timing: timed(store.executor),
    submit: () => engine.startFlow(flow),
    runUntilIdle: async () => (await worker.run({ untilIdle: true })).filter((o) => (o as { kind?: string }).kind === 'completed').length,
    close: async () => {
      await Promise.all([store.close(), submitStore.close()]);
      await schema.drop();
    },
  };
}

function sideOf(rounds: readonly Round[], flows: number): AnatomySide {
  const kinds = new Set(rounds.flatMap((r) => [...r.byKind.keys()]));
  const statements = [...kinds].map((kind): StatementCost => {
    const all = rounds.flatMap((r) => r.byKind.get(kind) ?? []);
    return {
      kind,
      perFlow: all.length / rounds.length / flows,
      medianUs: median(all) * 1000,
      msPerFlow: median(rounds.map((r) => (r.byKind.get(kind) ?? []).reduce((a, b) => a + b, 0) / flows)),
    };
  });
  return {
    msPerFlow: sample(rounds.map((r) => r.ms / flows)),
    statementMsPerFlow: sample(rounds.map((r) => r.statementMs / flows)),
    cpuUsPerStep: sample(rounds.map((r) => r.cpuUs / flows / STEPS_PER_FLOW)),
    walBytesPerFlow: sample(rounds.map((r) => r.walBytes / flows)),
    statements: statements.sort((a, b) => b.msPerFlow - a.msPerFlow),
  };
}

export async function workerAnatomy(old: PrequeueEngine, options: { flows: number; rounds: number }, log: (line: string) => void): Promise<WorkerAnatomy> {
  const now = await openToday();
  let before: Version | undefined;
  try {
    before = await openBefore(old);
    const versions: [string, Version][] = [
      ['now', now],
      ['before', before],
    ];
    // A round of each first, untimed: JIT, prepared statements, pools.
    for (const [, version] of versions) await runRound(version, Math.min(100, options.flows));
    const rounds = new Map<string, Round[]>(versions.map(([key]) => [key, []]));
    for (let round = 1; round <= options.rounds; round++) {
      for (const [key, version] of round % 2 === 1 ? versions : [...versions].reverse()) {
        globalThis.gc?.();
        const result = await runRound(version, options.flows);
        rounds.get(key)?.push(result);
        log(`  worker anatomy · ${key} · round ${round}: ${(result.ms / options.flows).toFixed(2)} ms per flow, ${Math.round(result.walBytes / options.flows)} WAL bytes per flow`);
      }
    }
    const nowRounds = rounds.get('now') ?? [];
    const beforeRounds = rounds.get('before') ?? [];
    const ratio = (of: (r: Round) => number): number => median(nowRounds.map((r, i) => of(r) / of(beforeRounds[i] as Round)));
    return {
      flows: options.flows,
      rounds: options.rounds,
      now: sideOf(nowRounds, options.flows),
      before: sideOf(beforeRounds, options.flows),
      ratios: {
        msPerFlow: ratio((r) => r.ms),
        statementMsPerFlow: ratio((r) => r.statementMs),
        cpuUsPerStep: ratio((r) => r.cpuUs),
        walBytesPerFlow: ratio((r) => r.walBytes),
      },
    };
  } finally {
    await now.close();
    await before?.close();
  }
}
