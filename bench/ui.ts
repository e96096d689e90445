// The web dashboard's server time: the first flows page on a store with many finished flows (bulk-loaded
// as bench/queue-history.ts does), and the page of one flow with a 10,000-event log, both served over
// HTTP by `chemflow ui`'s server in this process, on loopback.
import { join } from 'node:path';
import { EVENT_SCHEMA_VERSION, sha256Hex } from '../src/index.js';
import { openPostgresStore } from '../src/stores/open-store.js';
import type { SqlFlowStore } from '../src/stores/sql/sql-flow-store.js';
import { UiActions } from '../src/cli/ui/actions.js';
import { startUiServer } from '../src/cli/ui/server.js';
import { BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { loadFinishedFlows } from './queue-history.js';
import { median } from './stats.js';

/** Events of the long flow: FlowInitialized, StepStarted, the signals, StepFinished, FlowCompleted. */
export const LONG_FLOW_EVENTS = 10_000;
const LONG_FLOW_ID = '00000000-0000-4000-8000-00000000a11e';

export interface UiBenchResult {
  flows: number;
  requests: number;
  /** `GET /api/flows?limit=50`. */
  flowsListMedianMs: number;
  flowsListP95Ms: number;
  /** The flows page as it loads: the list, then the `status` document of each of its 50 flows. */
  flowsPageMedianMs: number;
  /** The flow page as it loads: status, events and errors of the 10,000-event flow at once. */
  flowPageMedianMs: number;
  flowPageP95Ms: number;
  /** The first page of each filter of the flows page (`GET /api/flows?limit=50&…`), median ms. */
  filteredMedianMs: Record<FilterName, number>;
  loadSeconds: number;
}

/**
 * The flows page's filters, each as its first page: a time window, an error class most flows with errors
 * have (one flow in 10), a rare one (one in 10,000), one no flow has, a class with a status, and the
 * other orders.
 */
const filters = (flows: number) => ({
  timeWindow: timeWindow(flows),
  commonClass: 'class=Transient',
  rareClass: 'class=Validation',
  absentClass: 'class=Runtime',
  classAndStatus: 'class=Validation&status=completed',
  oldest: 'sort=oldest',
  byName: 'sort=name',
});
type FilterName = keyof ReturnType<typeof filters>;

/**
 * A window over the second quarter of the loaded flows' creation times (flow g is created 10 ms after
 * flow g - 1, from 2025-01-01 00:00 UTC): a quarter of them, whatever their number.
 */
function timeWindow(flows: number): string {
  const start = Date.parse('2025-01-01T00:00:00Z');
  const at = (fraction: number): string => new Date(start + Math.floor(flows * fraction) * 10).toISOString();
  return `since=${at(0.25)}&until=${at(0.5)}`;
}

/** Failed attempts of some of the loaded flows (flow g is md5('history-' || g), as bench/queue-history.ts names it). */
async function loadErrors(store: SqlFlowStore, flows: number): Promise<void> {
  await store.executor.query(
    `INSERT INTO step_execution_errors (flow_id, step_id, attempt_number, error_class, error_message, details, timestamp, retry_count, max_retries)
     SELECT md5('history-' || g)::uuid, 'step-0', 1, CASE WHEN g % 10000 = 7 THEN 'Validation' ELSE 'Transient' END, 'bench failure',
       '{"error_code": "BENCH"}'::jsonb, timestamptz '2025-01-01 00:00:00+00' + g * interval '10 milliseconds', 0, 3
     FROM generate_series(0, $1::int - 1) AS g WHERE g % 10 = 0 OR g % 10000 = 7`,
    [flows],
  );
  await store.executor.exec('ANALYZE step_execution_errors');
}

/** One flow of one step that signals `LONG_FLOW_EVENTS - 4` times, in the codec's shapes. */
async function loadLongFlow(store: SqlFlowStore): Promise<void> {
  const fingerprint = sha256Hex('bench-ui-long');
  const step = { stepIndex: 0, stepId: 'step-0', attempt: 1 };
  const signals = LONG_FLOW_EVENTS - 4;
  await store.executor.query(
    `INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload)
     SELECT $1::uuid, v, timestamptz '2026-01-01 00:00:00+00' + v * interval '1 millisecond',
       CASE WHEN v = 1 THEN 'FlowInitialized' WHEN v = 2 THEN 'StepStarted' WHEN v = $3::int THEN 'FlowCompleted'
            WHEN v = $3::int - 1 THEN 'StepFinished' ELSE 'StepSignal' END,
       $2::int,
       CASE WHEN v = 1 THEN $4::jsonb WHEN v = 2 THEN $5::jsonb WHEN v = $3::int THEN $7::jsonb
            WHEN v = $3::int - 1 THEN $6::jsonb
            ELSE $5::jsonb || jsonb_build_object('name', 'progress', 'data', jsonb_build_object('done', v - 2)) END
     FROM generate_series(1, $3::int) AS v ORDER BY v`,
    [
      LONG_FLOW_ID,
      EVENT_SCHEMA_VERSION,
      signals + 4,
      JSON.stringify({ definitionHash: sha256Hex('bench-ui-definition'), stepCount: 1, flowName: 'bench-ui-long', stepIds: ['step-0'], metadata: {} }),
      JSON.stringify(step),
      JSON.stringify({ ...step, outputs: [], fingerprint }),
      JSON.stringify({ flowFingerprint: fingerprint }),
    ],
  );
  await store.rebuildQueue(LONG_FLOW_ID);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function getOk(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

export async function uiBench(flows: number, requests: number, log: (line: string) => void): Promise<UiBenchResult> {
  const schema = await createBenchSchema('ui');
  try {
    const store = await openPostgresStore({ connectionString: BENCH_PG_URL, schema: schema.name, max: 4 });
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: process.cwd() };
    try {
      const loadStart = performance.now();
      await loadLongFlow(store);
      await loadFinishedFlows(store, flows);
      await loadErrors(store, flows);
      const loadSeconds = (performance.now() - loadStart) / 1000;
      log(`ui: ${flows.toLocaleString('en-US')} flows loaded in ${loadSeconds.toFixed(1)} s`);
      const server = await startUiServer({ store, actions: new UiActions(store, io, { db: BENCH_PG_URL }), host: '127.0.0.1', port: 0, token: 'bench', readOnly: true, webDir: join(process.cwd(), 'web') });
      const base = `http://127.0.0.1:${server.port}`;
      try {
        const list: number[] = [];
        const page: number[] = [];
        const flow: number[] = [];
        const filtered = Object.fromEntries(Object.keys(filters(flows)).map((name) => [name, [] as number[]])) as Record<FilterName, number[]>;
        for (let i = 0; i <= requests; i++) {
          const listMs = await timed(() => getOk(`${base}/api/flows?limit=50`));
          const pageMs = await timed(async () => {
            const entries = (await getOk(`${base}/api/flows?limit=50`)) as { flowId: string }[];
            if (entries.length !== 50) throw new Error(`the first page has ${entries.length} flows`);
            await Promise.all(entries.map((e) => getOk(`${base}/api/flows/${e.flowId}`)));
          });
          const flowMs = await timed(async () => {
            const [, events] = await Promise.all(['', '/events', '/errors'].map((path) => getOk(`${base}/api/flows/${LONG_FLOW_ID}${path}`)));
            if ((events as unknown[]).length !== LONG_FLOW_EVENTS) throw new Error(`the long flow has ${(events as unknown[]).length} events`);
          });
          const filterMs = {} as Record<FilterName, number>;
          for (const [name, query] of Object.entries(filters(flows)) as [FilterName, string][])
            filterMs[name] = await timed(async () => {
              const entries = (await getOk(`${base}/api/flows?limit=50&${query}`)) as unknown[];
              if (name !== 'absentClass' && entries.length === 0) throw new Error(`the filter ${query} found no flow`);
            });
          if (i === 0) {
            log(`ui: first round (warm-up) list ${listMs.toFixed(1)} ms, page ${pageMs.toFixed(1)} ms, flow page ${flowMs.toFixed(1)} ms`);
            continue; // the first round warms the connections and the statements
          }
          for (const name of Object.keys(filters(flows)) as FilterName[]) filtered[name].push(filterMs[name]);
          list.push(listMs);
          page.push(pageMs);
          flow.push(flowMs);
        }
        const p95 = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.95)] ?? Number.NaN;
        return {
          flows,
          requests,
          flowsListMedianMs: median(list),
          flowsListP95Ms: p95(list),
          flowsPageMedianMs: median(page),
          flowPageMedianMs: median(flow),
          flowPageP95Ms: p95(flow),
          filteredMedianMs: Object.fromEntries(Object.entries(filtered).map(([name, values]) => [name, median(values)])) as Record<FilterName, number>,
          loadSeconds,
        };
      } finally {
        await server.close();
      }
    } finally {
      await store.close();
    }
  } finally {
    await schema.drop();
  }
}
