// A graph's branches spread over worker processes: a source, 8 branches of a 500 ms step and a join,
// submitted to a fresh PostgreSQL schema with 1, 2 and 4 `chemflow worker` processes (each
// `--concurrency 1`) already listening, after a first flow that warmed them up. Timed from the flow's own events (FlowInitialized →
// FlowCompleted); bound = ceil(8 / workers) × 500 ms, the branches' sleep alone, so the ratio says what
// claiming, leases and commits add. Every run must end with the same flow fingerprint.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chemflowCommand, cliPath, startCliWorker, type CliWorker } from './cli-workers.js';
import { adminQuery, BENCH_PG_URL, createBenchSchema } from './pg-admin.js';
import { median, sample, type Sample } from './stats.js';

export interface GraphWorkersRow {
  workers: number;
  seconds: Sample;
  bound: number;
  ratio: number;
}

const STEPS = {
  'root.mjs': `export default { kind: 'source', version: '1', run: () => ({ outputs: [{ kind: 'n', payload: { n: 1 } }] }) };\n`,
  'sleep.mjs': `export default {
  kind: 'transform',
  version: '1',
  async run(ctx) {
    await new Promise((resolve) => setTimeout(resolve, ctx.params.ms));
    return { outputs: [{ kind: 'n', payload: { branch: ctx.params.branch } }] };
  },
};\n`,
  'join.mjs': `export default { kind: 'sink', version: '1', run: (ctx) => ({ outputs: [{ kind: 'n', payload: { n: ctx.input.length } }] }) };\n`,
};

function fanOutFile(branches: number, ms: number): string {
  const ids = Array.from({ length: branches }, (_, k) => `branch${k + 1}`);
  return [
    'name: fan-out',
    'steps:',
    '  - { id: root, uses: ./root.mjs }',
    ...ids.map((id, k) => `  - { id: ${id}, uses: ./sleep.mjs, params: { ms: ${ms}, branch: ${k + 1} }, needs: [root] }`),
    `  - { id: join, uses: ./join.mjs, needs: [${ids.join(', ')}] }`,
    '',
  ].join('\n');
}

function schemaUrl(schema: string): string {
  const url = new URL(BENCH_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

async function waitForCompletion(workers: readonly CliWorker[], flowId: string, timeoutMs: number): Promise<string> {
  const start = Date.now();
  for (;;) {
    const line = workers.map((w) => w.outcome(flowId)).find((l) => l !== undefined);
    if (line !== undefined) {
      if (line.outcome !== 'completed' || line.flowFingerprint === null) throw new Error(`fan-out flow ${flowId} ended ${line.outcome}`);
      return line.flowFingerprint;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`fan-out flow ${flowId} did not finish in ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One flow on `workers` fresh worker processes: its seconds from its events, and its fingerprint. */
async function oneRun(cli: string, dir: string, workers: number): Promise<{ seconds: number; fingerprint: string }> {
  const schema = await createBenchSchema('graph_workers');
  const db = schemaUrl(schema.name);
  const started: CliWorker[] = [];
  try {
    await chemflowCommand(cli, db, ['migrate'], dir);
    for (let i = 0; i < workers; i++) started.push(startCliWorker(cli, db, dir));
    await Promise.all(started.map((w) => w.ready));
    // A first flow warms the workers up (the flow file read, the step modules imported, step threads
    // started: about a second per process on a busy machine); the second one is timed.
    const warmUp = (await chemflowCommand(cli, db, ['submit', 'flow.yaml'], dir)).trim();
    await waitForCompletion(started, warmUp, 120_000);
    const flowId = (await chemflowCommand(cli, db, ['submit', 'flow.yaml'], dir)).trim();
    const fingerprint = await waitForCompletion(started, flowId, 120_000);
    const [row] = await adminQuery<{ s: number }>(
      `SELECT extract(epoch FROM max(ts) FILTER (WHERE event_type = 'FlowCompleted') - min(ts) FILTER (WHERE event_type = 'FlowInitialized'))::float8 AS s
       FROM ${schema.name}.event_log WHERE flow_id = $1::uuid`,
      [flowId],
    );
    return { seconds: Number(row?.s), fingerprint };
  } finally {
    await Promise.all(started.map((w) => w.stop()));
    await schema.drop();
  }
}

export async function graphWorkersBench(options: { rounds: number; root: URL }, log: (line: string) => void): Promise<GraphWorkersRow[]> {
  const cli = cliPath(options.root);
  const dir = await mkdtemp(join(tmpdir(), 'chemflow-bench-graph-workers-'));
  await mkdir(dir, { recursive: true });
  const branches = 8;
  const branchMs = 500;
  for (const [name, text] of Object.entries(STEPS)) await writeFile(join(dir, name), text);
  await writeFile(join(dir, 'flow.yaml'), fanOutFile(branches, branchMs));
  const rows: GraphWorkersRow[] = [];
  const fingerprints = new Set<string>();
  for (const workers of [1, 2, 4]) {
    const seconds: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const run = await oneRun(cli, dir, workers);
      seconds.push(run.seconds);
      fingerprints.add(run.fingerprint);
    }
    const bound = (Math.ceil(branches / workers) * branchMs) / 1000;
    rows.push({ workers, seconds: sample(seconds), bound, ratio: median(seconds) / bound });
    log(`  fan-out of ${branches} × ${branchMs} ms on ${workers} worker process(es): ${median(seconds).toFixed(2)} s (bound ${bound} s, ${(median(seconds) / bound).toFixed(2)} ×)`);
  }
  if (fingerprints.size !== 1) throw new Error(`the fan-out flow ended with ${fingerprints.size} different fingerprints: ${[...fingerprints].join(', ')}`);
  return rows;
}
