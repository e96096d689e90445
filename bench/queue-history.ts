// A log with many finished flows, bulk-loaded in SQL: what an idle worker must not pay for. Each flow
// is the four events of a finished one-step flow (FlowInitialized, StepStarted, StepFinished,
// FlowCompleted, payloads in the codec's shape), and its queue row is projected by the migration's own
// rebuild function, as `chemflow queue rebuild` would.
import { EVENT_SCHEMA_VERSION, sha256Hex } from '../src/index.js';
import type { SqlFlowStore } from '../src/stores/sql/sql-flow-store.js';
import { oneStepFlow } from './flows.js';

export interface HistoryLoad {
  flows: number;
  events: number;
  /** The INSERT ... SELECT generate_series into event_log. */
  eventsSeconds: number;
  /** chemflow_rebuild_flow_queue() over the whole log. */
  rebuildSeconds: number;
  /** ANALYZE of both tables, so the planner sees what a long-lived database would show it. */
  analyzeSeconds: number;
}

const EVENTS_PER_FLOW = 4;

/** Flow g has id md5('history-g'); its events are a millisecond apart, flows ten apart, in 2025. */
const LOAD_EVENTS = `INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload)
SELECT md5('history-' || g)::uuid, v,
  timestamptz '2025-01-01 00:00:00+00' + g * interval '10 milliseconds' + v * interval '1 millisecond',
  (ARRAY['FlowInitialized', 'StepStarted', 'StepFinished', 'FlowCompleted'])[v], $2::int,
  (ARRAY[$3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb])[v]
FROM generate_series(0, $1::int - 1) AS g CROSS JOIN generate_series(1, ${EVENTS_PER_FLOW}) AS v
ORDER BY g, v`;

/** The bulk insert of `loadFinishedFlows`, for a schema written by another version (bench/prequeue-workers.ts). */
export function finishedFlowsInsert(flows: number): { text: string; values: unknown[] } {
  return { text: LOAD_EVENTS, values: [flows, EVENT_SCHEMA_VERSION, ...payloads()] };
}

function payloads(): string[] {
  const fingerprint = sha256Hex('bench-history');
  const step = { stepIndex: 0, stepId: oneStepFlow.steps[0]?.id ?? 'step-0', attempt: 1 };
  return [
    {
      definitionHash: oneStepFlow.definitionHash,
      stepCount: 1,
      flowName: oneStepFlow.name,
      stepIds: oneStepFlow.steps.map((s) => s.id),
      metadata: {},
    },
    step,
    { ...step, outputs: [], fingerprint },
    { flowFingerprint: fingerprint },
  ].map((p) => JSON.stringify(p));
}

const seconds = (start: number): number => (performance.now() - start) / 1000;

/** Appends `flows` finished flows to the store's (migrated) schema and projects them (the rebuild rewrites every row). */
export async function loadFinishedFlows(store: SqlFlowStore, flows: number): Promise<HistoryLoad> {
  const [{ rows: before } = { rows: 0 }] = await store.executor.query<{ rows: number }>('SELECT count(*)::int AS rows FROM flow_queue');
  let start = performance.now();
  const insert = finishedFlowsInsert(flows);
  await store.executor.query(insert.text, insert.values);
  const eventsSeconds = seconds(start);
  start = performance.now();
  const written = await store.rebuildQueue();
  const rebuildSeconds = seconds(start);
  if (written !== before + flows) throw new Error(`the queue rebuild wrote ${written} rows for ${before} + ${flows} flows`);
  start = performance.now();
  await store.executor.exec('ANALYZE event_log; ANALYZE flow_queue');
  return { flows, events: flows * EVENTS_PER_FLOW, eventsSeconds, rebuildSeconds, analyzeSeconds: seconds(start) };
}
