// What an idle worker costs, and how fast it starts a submitted flow, on one schema of the server:
// the statements of one idle look (a claim that finds nothing, then the next wake-up time), and the
// time from `engine.startFlow` in one store to the first step running in a FlowWorker on another
// store (its own pool and LISTEN connection), woken by NOTIFY.
import { defineFlow, FlowEngine, FlowWorker, type FlowDefinition } from '../src/index.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import { listFlowsQuery, nextWakeQuery } from '../src/stores/sql/queue-queries.js';
import { claimWorkQuery } from '../src/stores/sql/work-queries.js';
import { claimShardsQuery } from '../src/stores/sql/shard-queries.js';
import type { SqlFlowStore } from '../src/stores/sql/sql-flow-store.js';
import { BENCH_PG_URL, createBenchSchema, type BenchSchema } from './pg-admin.js';
import { loadFinishedFlows, type HistoryLoad } from './queue-history.js';

/** The worker's longest sleep: a start slower than this would mean NOTIFY did not wake it. */
const POLL_MS = 5_000;
const LEASE_MS = 30_000;
/** Pause after a flow ended, so the worker is asleep again when the next one is submitted. */
const SETTLE_MS = 25;
const MARK_TIMEOUT_MS = 15_000;
/** What `chemflow worker --once` reads when it finds nothing to claim (FlowWorker.run with untilIdle). */
export const OPEN_LISTING = { status: ['pending', 'running', 'waiting'] as const, limit: 1000 };

/** Scan nodes of a plan, e.g. "Index Scan using flow_queue_runnable on flow_queue". */
export interface QueuePlans {
  claim: string[];
  /** The shard claim of an idle look (migration 0007): the open shards' partial index. */
  claimShards: string[];
  nextWake: string[];
  /** The open-flow listing (not part of an idle look; see OPEN_LISTING). */
  listOpen: string[];
  /** Whether any node of the claim, shard-claim or next-wake plan reads a table in full (Seq Scan): what must never happen at scale. */
  seqScan: boolean;
}

export interface IdleProbe {
  readonly history: HistoryLoad | null;
  /** Milliseconds of `n` idle looks (a worker's one claim, claimWork, finding nothing + nextWakeAt), each timed alone. */
  idleLooks(n: number): Promise<number[]>;
  /**
   * The server's own time for `n` idle looks: planning + execution of the claim and of the next-wake
   * statement, from EXPLAIN (ANALYZE) (the claim finds nothing, so running it changes nothing).
   * Without the round trips and the client, it shows what the database spends, whatever the load.
   */
  serverLooks(n: number): Promise<number[]>;
  /** Milliseconds of `n` open-flow listings (OPEN_LISTING). */
  openListings(n: number): Promise<number[]>;
  /** Milliseconds from submit to the first step running, for `n` flows one after another. */
  submitToStart(n: number): Promise<number[]>;
  plans(): Promise<QueuePlans>;
  close(): Promise<void>;
}

/** When each flow's first step ran (performance.now()), and who waits for it. */
class StepMarks {
  private readonly times = new Map<string, number>();
  private readonly waiters = new Map<string, (at: number) => void>();

  mark(flowId: string, at: number): void {
    this.times.set(flowId, at);
    this.waiters.get(flowId)?.(at);
  }

  async wait(flowId: string): Promise<number> {
    const known = this.times.get(flowId);
    if (known !== undefined) return known;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<number>((resolve, reject) => {
        this.waiters.set(flowId, resolve);
        timer = setTimeout(() => reject(new Error(`flow ${flowId} was not started within ${MARK_TIMEOUT_MS} ms`)), MARK_TIMEOUT_MS);
      });
    } finally {
      clearTimeout(timer);
      this.waiters.delete(flowId);
    }
  }
}

/** A flow of one step that notes when it ran. */
function markingFlow(marks: StepMarks): FlowDefinition {
  return defineFlow('bench-latency', [
    {
      id: 'mark',
      kind: 'source',
      baseParams: {},
      run: (ctx) => {
        marks.mark(ctx.flowId, performance.now());
        return { outputs: [] };
      },
    },
  ]);
}

/** A node of EXPLAIN (FORMAT JSON). */
interface PlanNode {
  'Actual Rows'?: number;
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** Scan nodes of a plan tree (CTE scans, which read no table, left out). */
function scans(node: PlanNode, into: string[] = []): string[] {
  const type = node['Node Type'];
  if (type.includes('Scan') && type !== 'CTE Scan') {
    const index = node['Index Name'] === undefined ? '' : ` using ${node['Index Name']}`;
    const relation = node['Relation Name'] === undefined ? '' : ` on ${node['Relation Name']}`;
    into.push(`${type}${index}${relation}`);
  }
  for (const child of node.Plans ?? []) scans(child, into);
  return into;
}

/** Planning + execution time (ms) of one run of the statement, and the rows its top node returned. */
async function serverTime(store: SqlFlowStore, query: { text: string; values: readonly unknown[] }): Promise<{ ms: number; rows: number }> {
  const rows = await store.executor.query<{ 'QUERY PLAN': { Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }[] }>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${query.text}`,
    query.values,
  );
  const result = rows[0]?.['QUERY PLAN'][0];
  if (result === undefined) throw new Error('EXPLAIN ANALYZE returned no plan');
  return { ms: result['Planning Time'] + result['Execution Time'], rows: result.Plan['Actual Rows'] ?? 0 };
}

/** The scan nodes of the statement's plan (EXPLAIN without ANALYZE: nothing runs). */
export async function explain(store: SqlFlowStore, query: { text: string; values: readonly unknown[] }): Promise<string[]> {
  const rows = await store.executor.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (FORMAT JSON) ${query.text}`, query.values);
  const plan = rows[0]?.['QUERY PLAN'][0]?.Plan;
  if (plan === undefined) throw new Error('EXPLAIN returned no plan');
  return scans(plan);
}

/** A schema with `historyFlows` finished flows in its log (none: 0), an idle worker, a submitter. */
export async function openIdleProbe(label: string, historyFlows: number): Promise<IdleProbe> {
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const fn of closers.reverse()) await fn();
    closers.length = 0;
  };
  try {
    const schema: BenchSchema = await createBenchSchema(label);
    closers.push(() => schema.drop());
    const open = (applicationName: string, max: number): Promise<SqlFlowStore> =>
      openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, applicationName, max });
    const prober = await open('chemflow-bench-idle', 1);
    closers.push(() => prober.close());
    const history = historyFlows > 0 ? await loadFinishedFlows(prober, historyFlows) : null;
    const submitter = await open('chemflow-bench-submit', 2);
    closers.push(() => submitter.close());
    const workerStore = await open('chemflow-bench-worker', 2);
    closers.push(() => workerStore.close());

    const marks = new StepMarks();
    const flow = markingFlow(marks);
    const engine = new FlowEngine({ store: submitter });
    const ended = new StepMarks();
    const worker = new FlowWorker({
      store: workerStore,
      resolve: () => Promise.resolve({ definition: flow }),
      pollMs: POLL_MS,
      onOutcome: (outcome) => ended.mark(outcome.flowId, performance.now()),
    });
    const stop = new AbortController();
    const running = worker.run({ signal: stop.signal });
    closers.push(async () => {
      stop.abort();
      await running;
    });

    const owner = 'chemflow-bench-idle-prober';
    const idleLooks = async (n: number): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        const claimed = await prober.claimWork(owner, { limit: 1, leaseMs: LEASE_MS, events: true });
        await prober.nextWakeAt();
        ms.push(performance.now() - start);
        if (claimed.flows.length + claimed.items.length > 0)
          throw new Error(`the idle probe claimed ${claimed.flows.length} flow(s), ${claimed.items.length} item(s): the queue is not idle`);
      }
      return ms;
    };
    const serverLooks = async (n: number): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const claim = await serverTime(prober, claimWorkQuery(owner, { limit: 1, leaseMs: LEASE_MS, events: true }));
        if (claim.rows > 0) throw new Error(`the idle probe claimed ${claim.rows} flow(s) or item(s): the queue is not idle`);
        ms.push(claim.ms + (await serverTime(prober, nextWakeQuery())).ms);
      }
      return ms;
    };
    const openListings = async (n: number): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        await prober.listFlows(OPEN_LISTING);
        ms.push(performance.now() - start);
      }
      return ms;
    };
    const submitToStart = async (n: number): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const submitted = performance.now();
        const flowId = await engine.startFlow(flow);
        ms.push((await marks.wait(flowId)) - submitted);
        await ended.wait(flowId);
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      }
      return ms;
    };
    // Warm the pools, the prepared statements and the worker's first look.
    await idleLooks(5);
    await openListings(2);
    await serverLooks(2);
    await submitToStart(2);
    return {
      history,
      idleLooks,
      serverLooks,
      openListings,
      submitToStart,
      plans: async () => {
        const claim = await explain(prober, claimWorkQuery(owner, { limit: 1, leaseMs: LEASE_MS, events: true }));
        const claimShards = await explain(prober, claimShardsQuery(owner, 1, LEASE_MS, undefined));
        const nextWake = await explain(prober, nextWakeQuery());
        const listOpen = await explain(prober, listFlowsQuery(OPEN_LISTING));
        return { claim, claimShards, nextWake, listOpen, seqScan: [...claim, ...claimShards, ...nextWake].some((s) => s.startsWith('Seq Scan')) };
      },
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
