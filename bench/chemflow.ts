// chemflow driving the 10-step flows on a store: one flow at a time, or `concurrency` at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowEngine, type FlowDefinition, type FlowStore } from '../src/index.js';
import { openPgliteStore, openPostgresStore } from '../src/stores/open-store.js';
import { failOnceFlow, noopFlow, RETRY_AT_ONCE, STEPS_PER_FLOW } from './flows.js';
import { rate, type Meter } from './meter.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';

/**
 * One flow, created and run to its end as `chemflow run` does: created leased with its first step
 * started in the same commit, then run from its handle (no read); returns its step count.
 */
async function runFlow(engine: FlowEngine, flow: FlowDefinition): Promise<number> {
  const handle = await engine.start(flow, { leased: true });
  const state = await engine.runToEnd(handle);
  if (state.status !== 'completed') throw new Error(`bench flow ${handle.flowId} did not complete`);
  return STEPS_PER_FLOW;
}

function flowMeter(label: string, engine: FlowEngine, flow: FlowDefinition, concurrency: number): Meter {
  return { label, unit: 'steps/s', measure: (durationMs) => rate(concurrency, durationMs, () => runFlow(engine, flow)) };
}

export interface ChemflowOnPostgres {
  seq: Meter;
  c8: Meter;
  withFailuresSeq: Meter;
  close(): Promise<void>;
}

export async function openChemflowOnPostgres(): Promise<ChemflowOnPostgres> {
  const schema = await createBenchSchema('chemflow');
  let store: FlowStore;
  try {
    store = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: 8 });
  } catch (error) {
    await schema.drop();
    throw error;
  }
  const engine = new FlowEngine({ store, retryPolicy: RETRY_AT_ONCE });
  return {
    seq: flowMeter('chemflow · PostgreSQL · sequential', engine, noopFlow, 1),
    c8: flowMeter('chemflow · PostgreSQL · 8 concurrent', engine, noopFlow, 8),
    withFailuresSeq: flowMeter('chemflow · PostgreSQL · every step fails once', engine, failOnceFlow, 1),
    close: async () => {
      await store.close();
      await schema.drop();
    },
  };
}

export interface ChemflowOnPglite {
  seq: Meter;
  close(): Promise<void>;
}

/** The embedded default store: file-backed PGlite in a temporary directory. */
export async function openChemflowOnPglite(): Promise<ChemflowOnPglite> {
  const dir = mkdtempSync(join(tmpdir(), 'chemflow-bench-pglite-'));
  const store = await openPgliteStore(dir);
  const engine = new FlowEngine({ store, retryPolicy: RETRY_AT_ONCE });
  return {
    seq: flowMeter('chemflow · PGlite (embedded, file) · sequential', engine, noopFlow, 1),
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
