// DBOS Transact running the same workload: a workflow of 10 no-op steps (DBOS.runStep), on the same
// server, in a system database of its own that this file creates and drops.
import { DBOS } from '@dbos-inc/dbos-sdk';
import { STEPS_PER_FLOW } from './flows.js';
import { rate, type Meter } from './meter.js';
import { createBenchDatabase } from './pg-admin.js';

const noop = (): Promise<void> => Promise.resolve();

async function tenNoopSteps(): Promise<number> {
  for (let i = 0; i < STEPS_PER_FLOW; i++) await DBOS.runStep(noop, { name: `step-${i}` });
  return STEPS_PER_FLOW;
}

export interface DbosBench {
  seq: Meter;
  c8: Meter;
  close(): Promise<void>;
}

/** Registers the workflow, launches DBOS on a fresh database, and shuts it down and drops it on close. */
export async function openDbos(): Promise<DbosBench> {
  const database = await createBenchDatabase('dbos');
  const workflow = DBOS.registerWorkflow(tenNoopSteps, { name: 'chemflowBenchTenNoopSteps' });
  try {
    // The pool matches chemflow's (8 connections), so the 8-concurrent rows compare like with like.
    DBOS.setConfig({ name: 'chemflow-bench', systemDatabaseUrl: database.url, systemDatabasePoolSize: 10, logLevel: 'error' });
    await DBOS.launch();
  } catch (error) {
    await DBOS.shutdown().catch(() => undefined);
    await database.drop();
    throw error;
  }
  const meter = (concurrency: number, label: string): Meter => ({
    label,
    unit: 'steps/s',
    measure: (durationMs) => rate(concurrency, durationMs, () => workflow()),
  });
  return {
    seq: meter(1, 'DBOS Transact · PostgreSQL · sequential'),
    c8: meter(8, 'DBOS Transact · PostgreSQL · 8 concurrent'),
    close: async () => {
      await DBOS.shutdown();
      await database.drop();
    },
  };
}
