// Steps per second of N FlowWorkers on many short flows: the 10-step no-op flows submitted beforehand
// (untimed), then N workers in this process, each with its own store (pool) and LISTEN connection,
// claiming from one queue for the length of a sample. Only StepFinished events inside the sample count.
import { FlowEngine, FlowWorker } from '../src/index.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import type { SqlFlowStore } from '../src/stores/sql/sql-flow-store.js';
import { noopFlow, RETRY_AT_ONCE } from './flows.js';
import { loadFinishedFlows, type HistoryLoad } from './queue-history.js';
import type { Meter } from './meter.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { newTally, sampleWorkers, topUp } from './worker-sample.js';

export interface WorkerMeters {
  /** One meter per worker count, in the order asked. */
  meters: { workers: number; meter: Meter }[];
  /** Attempts that failed during samples (a worker stopped between a chained StepStarted and its run). */
  failedAttempts(): number;
  /** Samples in which the queue ran out of pending flows (the rate would then be too low). */
  drySamples(): number;
  /** Bulk-loads `flows` finished flows into the workers' schema (bench/queue-history.ts). */
  loadHistory(flows: number): Promise<HistoryLoad>;
  close(): Promise<void>;
}

const SUBMITTERS = 8;

export async function openWorkerMeters(counts: readonly number[]): Promise<WorkerMeters> {
  const schema = await createBenchSchema('workers');
  const stores: SqlFlowStore[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(stores.map((s) => s.close()));
    await schema.drop();
  };
  try {
    const open = async (applicationName: string, max: number): Promise<SqlFlowStore> => {
      const store = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, applicationName, max });
      stores.push(store);
      return store;
    };
    const submitter = await open('chemflow-bench-submit', SUBMITTERS);
    const engine = new FlowEngine({ store: submitter, retryPolicy: RETRY_AT_ONCE });
    const tally = newTally();
    const workers: FlowWorker[] = [];
    for (let i = 0; i < Math.max(...counts); i++) {
      workers.push(
        new FlowWorker({
          store: await open(`chemflow-bench-worker-${i}`, 2),
          resolve: () => Promise.resolve({ definition: noopFlow, retryPolicy: RETRY_AT_ONCE }),
          onEvent: (event) => {
            if (!tally.counting) return;
            if (event.type === 'StepFinished') tally.steps += 1;
            else if (event.type === 'StepFailed') tally.failed += 1;
          },
        }),
      );
    }

    const measure = async (n: number, durationMs: number): Promise<number> => {
      await topUp(tally, durationMs, (await submitter.queueDepth()).pending, () => engine.startFlow(noopFlow));
      return sampleWorkers(workers.slice(0, n), tally, durationMs, async () => (await submitter.queueDepth()).pending === 0);
    };

    return {
      meters: counts.map((n) => ({
        workers: n,
        meter: { label: `chemflow · ${n} FlowWorker${n === 1 ? '' : 's'}`, unit: 'steps/s', measure: (ms) => measure(n, ms) },
      })),
      failedAttempts: () => tally.failed,
      drySamples: () => tally.dry,
      loadHistory: (flows) => loadFinishedFlows(submitter, flows),
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
