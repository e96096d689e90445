// The audit query under load: getErrorTimeline(flowId, stepId) on a step_execution_errors table of
// 1,000,000 rows (20,000 flows × 10 steps × 5 failed attempts), bulk-loaded in SQL.
import { createHash } from 'node:crypto';
import { openPostgresStore } from '../src/stores/open-store.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { median } from './stats.js';

export const ERROR_ROWS = 1_000_000;
const STEPS = 10;
const ATTEMPTS = 5;
const FLOWS = ERROR_ROWS / (STEPS * ATTEMPTS);

/** The bench's flow ids: md5 of a label read as a UUID, the same in SQL and here. */
function flowIdOf(n: number): string {
  const h = createHash('md5').update(`bench-flow-${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Row g is attempt (g % 5) + 1 of step (g / 5) % 10 of flow g / 50, in the shape the engine writes
 * (details with a stack trace, input hash and params). Ordered by flow so the index is built in order.
 */
const BULK_LOAD = `INSERT INTO step_execution_errors
  (flow_id, step_id, attempt_number, error_class, error_message, details, timestamp, retry_count, max_retries)
SELECT md5('bench-flow-' || (g / ${STEPS * ATTEMPTS}))::uuid, 'step-' || ((g / ${ATTEMPTS}) % ${STEPS}), (g % ${ATTEMPTS}) + 1,
  'Transient', 'provider timed out',
  jsonb_build_object('code', 'TRANSIENT', 'stack_trace', 'TransientError: provider timed out\n    at run (steps/provider.js:12:11)',
    'input_hash', md5(g::text) || md5((g + 1)::text), 'params', jsonb_build_object('batch', g % 100)),
  timestamptz '2025-01-01 00:00:00+00' + g * interval '1 millisecond', g % ${ATTEMPTS}, ${ATTEMPTS}
FROM generate_series(0, ${ERROR_ROWS - 1}) AS g
ORDER BY 1, 2, 3`;

export interface ErrorTimelineResult {
  rows: number;
  queries: number;
  medianMs: number;
  p95Ms: number;
  loadSeconds: number;
}

export async function errorTimelineBench(queries: number): Promise<ErrorTimelineResult> {
  const schema = await createBenchSchema('errors');
  try {
    const store = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: 1 });
    try {
      const loadStart = performance.now();
      await store.executor.exec(`${BULK_LOAD};\nANALYZE step_execution_errors`);
      const loadSeconds = (performance.now() - loadStart) / 1000;
      const latencies: number[] = [];
      for (let i = 0; i <= queries; i++) {
        const flowId = flowIdOf((i * 7919) % FLOWS); // a fixed spread of flows, never the same twice in a row
        const stepId = `step-${i % STEPS}`;
        const start = performance.now();
        const timeline = await store.getErrorTimeline(flowId, stepId);
        const ms = performance.now() - start;
        if (timeline.length !== ATTEMPTS) throw new Error(`timeline of ${flowId}/${stepId} has ${timeline.length} rows`);
        if (i > 0) latencies.push(ms); // the first query warms the connection and the statement
      }
      latencies.sort((a, b) => a - b);
      return {
        rows: ERROR_ROWS,
        queries,
        medianMs: median(latencies),
        p95Ms: latencies[Math.floor(latencies.length * 0.95)] ?? Number.NaN,
        loadSeconds,
      };
    } finally {
      await store.close();
    }
  } finally {
    await schema.drop();
  }
}
