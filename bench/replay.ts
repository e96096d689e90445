// Rebuilding a long flow from its log: 100,000 events read back and folded by the one reducer, from
// the memory store and from PostgreSQL (read, decode with the codec, fold).
import { randomUUID } from 'node:crypto';
import {
  defineFlow,
  FlowEngine,
  MemoryFlowStore,
  replay,
  sha256Hex,
  type FlowDefinition,
  type FlowEvent,
  type FlowStore,
  type NewFlowEvent,
} from '../src/index.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { elapsedSeconds, sample, type Sample } from './stats.js';

export const REPLAY_EVENTS = 100_000;
/**
 * The flow rebuilt: 1,000 steps of about 100 events each — a step reports progress as it goes
 * (`StepSignal`), and every tenth step fails once (Transient) and is retried — 100,000 events in all.
 */
const STEPS = 1_000;
const FAILING_EVERY = 10;
const APPEND_BATCH = 2_000;

export interface LongFlow {
  definition: FlowDefinition;
  events: NewFlowEvent[];
}

/**
 * A flow of exactly `total` events over `steps` steps: every step starts, signals progress and
 * finishes; every tenth fails its first attempt and is retried. Signals fill each step's share.
 */
export function longFlow(total = REPLAY_EVENTS, steps = STEPS): LongFlow {
  const definition = defineFlow(
    'bench-replay',
    Array.from({ length: steps }, (_, i) => ({
      id: `step-${i}`,
      kind: i === 0 ? ('source' as const) : ('transform' as const),
      baseParams: {},
      run: () => ({ outputs: [] }),
    })),
  );
  const base = Date.parse('2025-01-01T00:00:00.000Z');
  const events: NewFlowEvent[] = [];
  const at = (): string => new Date(base + events.length).toISOString();
  const fingerprint = (i: number): string => sha256Hex(`fingerprint-${i}`);
  events.push({
    type: 'FlowInitialized',
    ts: at(),
    definitionHash: definition.definitionHash,
    stepCount: steps,
    flowName: definition.name,
    stepIds: definition.steps.map((s) => s.id),
    metadata: { source: 'bench' },
  });
  for (let i = 0; i < steps; i++) {
    const stepId = `step-${i}`;
    // Events left for this step and the ones after it, shared evenly; FlowCompleted is the last one.
    const budget = Math.floor((total - 1 - events.length) / (steps - i));
    const stepEnd = events.length + budget;
    events.push({ type: 'StepStarted', ts: at(), stepIndex: i, stepId, attempt: 1 });
    let attempt = 1;
    if (i % FAILING_EVERY === FAILING_EVERY - 1) {
      events.push({
        type: 'StepFailed',
        ts: at(),
        stepIndex: i,
        stepId,
        attempt: 1,
        errorClass: 'Transient',
        error: { code: 'TRANSIENT', message: 'provider timed out' },
        details: { stack_trace: 'TransientError: provider timed out\n    at run (steps/provider.js:12:11)', input_hash: fingerprint(-i), params: {} },
        fingerprint: fingerprint(i),
        retryCount: 0,
        maxRetries: 3,
      });
      events.push({ type: 'RetryScheduled', ts: at(), stepIndex: i, stepId, retryIndex: 1, reason: 'automatic: Transient TRANSIENT', delayMs: 0, notBefore: at() });
      events.push({ type: 'StepStarted', ts: at(), stepIndex: i, stepId, attempt: 2 });
      attempt = 2;
    }
    while (events.length < stepEnd - 1)
      events.push({ type: 'StepSignal', ts: at(), stepIndex: i, stepId, attempt, name: 'progress', data: { molecules: events.length } });
    events.push({ type: 'StepFinished', ts: at(), stepIndex: i, stepId, attempt, outputs: [sha256Hex(`output-${i}`)], fingerprint: fingerprint(i) });
  }
  events.push({ type: 'FlowCompleted', ts: at(), flowFingerprint: sha256Hex('bench-replay') });
  if (events.length !== total) throw new Error(`bench: built ${events.length} events, not ${total}`);
  return { definition, events };
}

async function store(target: FlowStore, flowId: string, events: readonly NewFlowEvent[]): Promise<void> {
  for (let from = 0; from < events.length; from += APPEND_BATCH)
    await target.append(flowId, from, events.slice(from, from + APPEND_BATCH));
}

/** Events per second of `engine.load`, once per run; checks every rebuild is the complete flow. */
async function loadRate(engine: FlowEngine, flowId: string, flow: LongFlow, runs: number): Promise<Sample> {
  const rates: number[] = [];
  for (let run = 0; run <= runs; run++) {
    globalThis.gc?.();
    const start = process.hrtime.bigint();
    const state = (await engine.open(flowId, flow.definition)).flow;
    const seconds = elapsedSeconds(start);
    if (state.status !== 'completed' || state.version !== flow.events.length) throw new Error(`replay of ${flowId} is incomplete`);
    if (run > 0) rates.push(flow.events.length / seconds); // run 0 warms up
  }
  return sample(rates);
}

export interface ReplayResult {
  events: number;
  memory: Sample;
  postgres: Sample;
  /** The reducer alone over events already decoded in memory: the floor under both. */
  foldOnly: Sample;
}

export async function replayBench(runs: number): Promise<ReplayResult> {
  const flow = longFlow();
  const memory = new MemoryFlowStore();
  const memoryId = randomUUID();
  await store(memory, memoryId, flow.events);
  const memoryRate = await loadRate(new FlowEngine({ store: memory }), memoryId, flow, runs);
  const decoded: FlowEvent[] = await memory.list(memoryId);
  const folds: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const start = process.hrtime.bigint();
    replay(memoryId, decoded, flow.definition);
    if (run > 0) folds.push(decoded.length / elapsedSeconds(start));
  }

  const schema = await createBenchSchema('replay');
  try {
    const pg = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: 2 });
    try {
      const pgId = randomUUID();
      await store(pg, pgId, flow.events);
      const pgRate = await loadRate(new FlowEngine({ store: pg }), pgId, flow, runs);
      return { events: flow.events.length, memory: memoryRate, postgres: pgRate, foldOnly: sample(folds) };
    } finally {
      await pg.close();
    }
  } finally {
    await schema.drop();
  }
}
