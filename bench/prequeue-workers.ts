// The pre-queue engine's meters, the same workload as today's (bench/queue-workers.ts, bench/chemflow.ts):
// 10-step no-op flows, submitted beforehand (untimed) for N FlowWorkers of that version, each with its own
// pool; and its engine driving one flow at a time. Its worker finds work as it did then: every pass lists
// every flow's summary, and workers race for the same flows (the losers get a ConcurrencyError).
import { STEPS_PER_FLOW } from './flows.js';
import { rate, type Meter } from './meter.js';
import { adminQuery, BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { finishedFlowsInsert } from './queue-history.js';
import { newTally, sampleWorkers, topUp } from './worker-sample.js';
import type { PrequeueEngine } from './prequeue-build.js';

export interface PrequeueMeters {
  sequential: Meter;
  workers: { workers: number; meter: Meter }[];
  /** Attempts that failed during worker samples. */
  failedAttempts(): number;
  /** Worker samples that ran out of open flows. */
  drySamples(): number;
  /** Flows the meters submitted (the old worker lists all of them, and any history, on every pass). */
  flowsInLog(): { sequential: number; workers: number };
  /** Bulk-loads `flows` finished flows into the workers' schema, as today's (bench/queue-history.ts). */
  loadHistory(flows: number): Promise<void>;
  close(): Promise<void>;
}

const SUBMITTERS = 8;
const RETRY_AT_ONCE = { maxRetries: 3, backoff: { kind: 'none' } };

export async function openPrequeueMeters(old: PrequeueEngine, counts: readonly number[]): Promise<PrequeueMeters> {
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closeOne of closers.reverse()) await closeOne();
  };
  try {
    const open = async (label: string, applicationName: string, max: number) => {
      const schema = await createBenchSchema(label);
      closers.push(() => schema.drop());
      const store = await old.stores.openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, applicationName, max });
      closers.push(() => store.close());
      return { schema: schema.name, store };
    };
    const steps = Array.from({ length: STEPS_PER_FLOW }, (_, i) => ({
      id: `step-${i}`,
      kind: i === 0 ? 'source' : 'transform',
      baseParams: {},
      run: () => ({ outputs: [] }),
    }));
    const flow = old.index.defineFlow('bench-noop', steps);

    const seqStore = (await open('prequeue_seq', 'chemflow-bench-prequeue-seq', 2)).store;
    const seqEngine = new old.index.FlowEngine({ store: seqStore, retryPolicy: RETRY_AT_ONCE });
    let sequentialFlows = 0;
    const sequential: Meter = {
      label: `pre-queue ${old.commit.slice(0, 7)} · sequential (startFlow + runToEnd)`,
      unit: 'steps/s',
      measure: (ms) =>
        rate(1, ms, async () => {
          const flowId = await seqEngine.startFlow(flow);
          const end = await seqEngine.runToEnd(flowId, flow);
          if (!end.completed) throw new Error(`pre-queue bench flow ${flowId} did not complete`);
          sequentialFlows += 1;
          return STEPS_PER_FLOW;
        }),
    };

    const { schema: workersSchema, store: submitStore } = await open('prequeue_workers', 'chemflow-bench-prequeue-submit', SUBMITTERS);
    const submitter = new old.index.FlowEngine({ store: submitStore, retryPolicy: RETRY_AT_ONCE });
    const tally = newTally();
    const completed = { count: 0 };
    let submitted = 0;
    const workers: InstanceType<PrequeueEngine['index']['FlowWorker']>[] = [];
    for (let i = 0; i < Math.max(...counts); i++) {
      const store = await old.stores.openPostgresStore({
        connectionString: BENCH_PG_URL,
        schema: workersSchema,
        applicationName: `chemflow-bench-prequeue-worker-${i}`,
        max: 2,
      });
      closers.push(() => store.close());
      workers.push(
        new old.index.FlowWorker({
          store,
          resolve: () => Promise.resolve({ definition: flow, retryPolicy: RETRY_AT_ONCE }),
          onEvent: (event) => {
            if (event.type === 'FlowCompleted') completed.count += 1;
            if (!tally.counting) return;
            if (event.type === 'StepFinished') tally.steps += 1;
            else if (event.type === 'StepFailed') tally.failed += 1;
          },
        }),
      );
    }
    const measure = async (n: number, durationMs: number): Promise<number> => {
      await topUp(tally, durationMs, submitted - completed.count, async () => {
        await submitter.startFlow(flow);
        submitted += 1;
      });
      return sampleWorkers(workers.slice(0, n), tally, durationMs, () => submitted === completed.count);
    };
    return {
      sequential,
      workers: counts.map((n) => ({
        workers: n,
        meter: {
          label: `pre-queue ${old.commit.slice(0, 7)} · ${n} FlowWorker${n === 1 ? '' : 's'}`,
          unit: 'steps/s',
          measure: (ms) => measure(n, ms),
        },
      })),
      failedAttempts: () => tally.failed,
      drySamples: () => tally.dry,
      flowsInLog: () => ({ sequential: sequentialFlows, workers: submitted }),
      loadHistory: async (flows) => {
        const insert = finishedFlowsInsert(flows);
        await adminQuery(insert.text.replace('INSERT INTO event_log', `INSERT INTO ${workersSchema}.event_log`), insert.values);
        await adminQuery(`ANALYZE ${workersSchema}.event_log`);
      },
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
