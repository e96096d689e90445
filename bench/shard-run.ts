// One timed run of the shard benchmark: a fresh schema, `workers` CLI worker processes started and
// listening, the flow submitted, timed from its own events (FlowInitialized → FlowCompleted, and the
// mapped step's StepStarted → merged StepFinished), then everything stopped and dropped. A fresh
// schema each time: nothing cached or left over from an earlier run can make a later one cheaper.
import { chemflowCommand, startCliWorker, type CliWorker } from './cli-workers.js';
import { adminQuery, BENCH_PG_URL, createBenchSchema } from './pg-admin.js';

export interface ShardRunSetup {
  /** bin/chemflow.js of the work tree. */
  cli: string;
  /** The scratch directory holding the flow files and the library. */
  dir: string;
  flowFile: string;
  workers: number;
}

export interface ShardRun {
  /** FlowInitialized → FlowCompleted, from the events' timestamps. */
  flowSeconds: number;
  /** The mapped step: its StepStarted → its merged StepFinished. */
  stepSeconds: number;
  /** Shards finished (StepFinished events with a shard). */
  shards: number;
  /** StepFailed events (a retried shard would make the run slower than it should be). */
  failures: number;
  /**
   * CPU seconds of all worker processes from start to the flow's end (startup, idle looks included): what
   * the run cost whatever else the machine did, unlike wall time. NaN without /proc.
   */
  cpuSeconds: number;
  /** Most shards running at once, from the log's order of shard starts and ends: 2 when two processes shared them. */
  shardsAtOnce: number;
  /** Mean start → finish of one shard. */
  shardSeconds: number;
  flowFingerprint: string;
}

const MAPPED_STEP = 'descriptors';
/** Longest wait for one flow: the full library on one loaded core takes minutes, never this long. */
const FLOW_TIMEOUT_MS = 30 * 60_000;

/** `--db` URL putting chemflow in `schema` (as the e2e tests do). */
function schemaUrl(schema: string): string {
  const url = new URL(BENCH_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

async function waitForOutcome(workers: readonly CliWorker[], flowId: string): Promise<string> {
  const start = Date.now();
  for (;;) {
    const line = workers.map((w) => w.outcome(flowId)).find((l) => l !== undefined);
    if (line !== undefined) {
      if (line.outcome !== 'completed' || line.flowFingerprint === null)
        throw new Error(`flow ${flowId} ended ${line.outcome}${line.error === null ? '' : `: ${line.error}`}`);
      return line.flowFingerprint;
    }
    if (Date.now() - start > FLOW_TIMEOUT_MS) throw new Error(`flow ${flowId} did not finish in ${FLOW_TIMEOUT_MS / 60_000} min`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface TimingRow {
  flow_s: number;
  step_s: number;
  shards: number;
  failures: number;
}

async function timings(schema: string, flowId: string): Promise<TimingRow> {
  const [row] = await adminQuery<TimingRow>(
    `SELECT
       extract(epoch FROM max(ts) FILTER (WHERE event_type = 'FlowCompleted') - min(ts) FILTER (WHERE event_type = 'FlowInitialized'))::float8 AS flow_s,
       extract(epoch FROM max(ts) FILTER (WHERE event_type = 'StepFinished' AND payload->>'stepId' = $2 AND NOT payload ? 'shard')
                        - min(ts) FILTER (WHERE event_type = 'StepStarted' AND payload->>'stepId' = $2 AND NOT payload ? 'shard'))::float8 AS step_s,
       count(*) FILTER (WHERE event_type = 'StepFinished' AND payload ? 'shard')::int AS shards,
       count(*) FILTER (WHERE event_type = 'StepFailed')::int AS failures
     FROM ${schema}.event_log WHERE flow_id = $1::uuid`,
    [flowId, MAPPED_STEP],
  );
  if (row === undefined || row.flow_s === null || row.step_s === null) throw new Error(`flow ${flowId}: no timings in its events`);
  return row;
}

interface ShardSweep {
  atOnce: number;
  meanSeconds: number;
}

/**
 * The shard events in log order: +1 running on a start, −1 on a finish or failure (the most at once),
 * and each finished shard's start → finish (its mean: twice as long with two at once means the CPU,
 * not chemflow, was what limited them).
 */
async function shardSweep(schema: string, flowId: string): Promise<ShardSweep> {
  const rows = await adminQuery<{ event_type: string; shard: number; at: number }>(
    `SELECT event_type, (payload->'shard'->>'index')::int AS shard, extract(epoch FROM ts)::float8 AS at
     FROM ${schema}.event_log WHERE flow_id = $1::uuid AND payload ? 'shard' ORDER BY version`,
    [flowId],
  );
  const started = new Map<number, number>();
  const durations: number[] = [];
  let running = 0;
  let atOnce = 0;
  for (const row of rows) {
    if (row.event_type === 'StepStarted') {
      started.set(row.shard, row.at);
      running += 1;
    } else if (row.event_type === 'StepFinished' || row.event_type === 'StepFailed') {
      running -= 1;
      const start = started.get(row.shard);
      if (row.event_type === 'StepFinished' && start !== undefined) durations.push(row.at - start);
    }
    atOnce = Math.max(atOnce, running);
  }
  return { atOnce, meanSeconds: durations.reduce((a, b) => a + b, 0) / durations.length };
}

export async function shardRun(setup: ShardRunSetup): Promise<ShardRun> {
  const schema = await createBenchSchema('shards');
  const db = schemaUrl(schema.name);
  const workers: CliWorker[] = [];
  try {
    await chemflowCommand(setup.cli, db, ['migrate'], setup.dir);
    for (let i = 0; i < setup.workers; i++) workers.push(startCliWorker(setup.cli, db, setup.dir));
    await Promise.all(workers.map((w) => w.ready));
    const flowId = (await chemflowCommand(setup.cli, db, ['submit', setup.flowFile], setup.dir)).trim();
    const flowFingerprint = await waitForOutcome(workers, flowId);
    const cpuSeconds = workers.reduce((sum, w) => sum + (w.cpuSeconds() ?? Number.NaN), 0);
    const t = await timings(schema.name, flowId);
    return {
      flowSeconds: t.flow_s,
      stepSeconds: t.step_s,
      shards: t.shards,
      failures: t.failures,
      cpuSeconds,
      ...(await shardSweep(schema.name, flowId).then((sweep) => ({ shardsAtOnce: sweep.atOnce, shardSeconds: sweep.meanSeconds }))),
      flowFingerprint,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await schema.drop();
  }
}
