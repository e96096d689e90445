// chemflow's own statements with no engine and no store code around them: the same 11 appends per
// 10-step flow (the first creates the flow leased with its first step started, the nine steps between
// go as the lease holder's quiet statement), sent from a bare pg client. The floor under chemflow's
// steps/s on this server.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sha256Hex, type QueueProjection } from '../src/index.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import { appendEventsQuery, quietAppendQuery, type EventRowInput } from '../src/stores/sql/event-queries.js';
import { noopFlow, STEPS_PER_FLOW } from './flows.js';
import { rate, type Meter } from './meter.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';

const FINGERPRINT = sha256Hex('bench-floor');

/** The batches the engine appends for one flow of no-op steps, in order. */
function flowBatches(ts: string): EventRowInput[][] {
  const started = (i: number): EventRowInput => ({ type: 'StepStarted', ts, payload: { stepIndex: i, stepId: `step-${i}`, attempt: 1 } });
  const finished = (i: number): EventRowInput => ({
    type: 'StepFinished',
    ts,
    payload: { stepIndex: i, stepId: `step-${i}`, attempt: 1, outputs: [], fingerprint: FINGERPRINT },
  });
  const init: EventRowInput = {
    type: 'FlowInitialized',
    ts,
    payload: { definitionHash: noopFlow.definitionHash, stepCount: STEPS_PER_FLOW, flowName: noopFlow.name, stepIds: noopFlow.steps.map((s) => s.id), metadata: {} },
  };
  const batches: EventRowInput[][] = [[init, started(0)]];
  for (let i = 0; i < STEPS_PER_FLOW - 1; i++) batches.push([finished(i), started(i + 1)]);
  batches.push([finished(STEPS_PER_FLOW - 1), { type: 'FlowCompleted', ts, payload: { flowFingerprint: FINGERPRINT } }]);
  return batches;
}

/** The queue row's values, which the engine's process computes (`batchProjection`) and the statement only writes. */
function projection(events: readonly EventRowInput[]): QueueProjection {
  const first = events[0] as EventRowInput;
  const last = events[events.length - 1] as EventRowInput;
  return {
    status: last.type === 'FlowCompleted' ? 'completed' : 'running',
    lastEventType: last.type as QueueProjection['lastEventType'],
    notBefore: null,
    keepsFailed: false,
    name: first.type === 'FlowInitialized' ? noopFlow.name : null,
    firstTs: first.ts,
    lastTs: last.ts,
  };
}

export interface SqlFloor {
  seq: Meter;
  close(): Promise<void>;
}

export async function openSqlFloor(): Promise<SqlFloor> {
  const schema = await createBenchSchema('floor');
  const client = new pg.Client({ connectionString: BENCH_PG_URL, options: `-c search_path=${schema.name}` });
  try {
    await (await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: 1 })).close();
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    await schema.drop();
    throw error;
  }
  // One prepared statement per text (the flow's creation inserts its queue row, later appends update it).
  const names = new Map<string, string>();
  const query = (q: { text: string; values: readonly unknown[] }) => {
    let name = names.get(q.text);
    if (name === undefined) names.set(q.text, (name = `floor_append_${names.size}`));
    return client.query({ name, text: q.text, values: [...q.values] });
  };
  const flow = async (): Promise<number> => {
    const flowId = randomUUID();
    let version = 0;
    for (const events of flowBatches(new Date().toISOString())) {
      // The engine's coordinator appends as the lease's holder: its steps leave the queue row unwritten.
      const lease = version === 0 ? { owner: 'floor', leaseMs: 30_000 } : undefined;
      const batch = { flowId, expectedVersion: version, schemaVersion: 1, events, queue: projection(events), errors: [], artifacts: [], lease, holder: 'floor' };
      // The lease holder's steps go as the quiet statement, which always holds here.
      await query(quietAppendQuery(batch) ?? appendEventsQuery(batch));
      version += events.length;
    }
    return STEPS_PER_FLOW;
  };
  return {
    seq: { label: "chemflow's SQL alone · sequential", unit: 'steps/s', measure: (durationMs) => rate(1, durationMs, flow) },
    close: async () => {
      await client.end();
      await schema.drop();
    },
  };
}
