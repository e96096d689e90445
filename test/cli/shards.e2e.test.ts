// With 2 worker processes on PostgreSQL, shards of one step run in both (seen
// through the step's own side effects), each shard finishes exactly once, also when the worker running
// a shard is SIGKILLed mid-shard (that shard recovered as WORKER_LOST, its retry run by the other).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, pgAvailable } from '../helpers/pg.js';
import { chemflow, ensureBuilt, workspace, type Workspace } from './support/cli.js';
import { background, createPgDb, errorRows, fileExists, waitUntil, workerLines, type Background, type PgDb } from './support/processes.js';

beforeAll(ensureBuilt, 180_000);

/**
 * `items` gives 0..23; `square` (mapped, 4 per shard: 6 shards) logs `flowId shard attempt pid start|end`
 * to shards.log, takes 300 ms per shard, and squares its slice. Shard 3's first attempt writes
 * `held-<flowId>.marker` and waits for `release.marker` (honouring ctx.signal) when `hold` is set.
 */
const STEPS = `import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const log = (ctx, what) => appendFileSync(join(ctx.baseDir, 'shards.log'), \`\${ctx.flowId} \${ctx.shard?.index ?? 'whole'} \${ctx.attempt} \${process.pid} \${what}\\n\`);
const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
});
export const items = {
  kind: 'source',
  run() {
    return { outputs: [{ kind: 'test/items', payload: { items: Array.from({ length: 24 }, (_, i) => i) } }] };
  },
};
export const square = {
  kind: 'transform',
  async run(ctx) {
    log(ctx, 'start');
    if (ctx.params.hold && ctx.shard?.index === 3 && ctx.attempt === 1) {
      writeFileSync(join(ctx.baseDir, \`held-\${ctx.flowId}.marker\`), String(process.pid));
      while (!existsSync(join(ctx.baseDir, 'release.marker'))) await sleep(50, ctx.signal);
    }
    await sleep(300, ctx.signal);
    log(ctx, 'end');
    return { outputs: [{ kind: 'test/items', payload: { items: ctx.input[0].payload.items.map((x) => x * x) } }] };
  },
};
`;

const flowFile = (map: boolean, hold: boolean) => `name: squares
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - { id: items, uses: ./steps/shards.mjs#items }
  - id: square
    uses: ./steps/shards.mjs#square
    params: { hold: ${hold} }
${map ? '    map: { over: items, shardSize: 4 }\n' : ''}`;

interface ShardRun {
  flowId: string;
  shard: string;
  attempt: number;
  pid: number;
  what: 'start' | 'end';
}

async function shardRuns(dir: string, flowId: string): Promise<ShardRun[]> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(join(dir, 'shards.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith(flowId))
    .map((l) => {
      const [id = '', shard = '', attempt = '', pid = '', what = ''] = l.split(' ');
      return { flowId: id, shard, attempt: Number(attempt), pid: Number(pid), what: what as 'start' | 'end' };
    });
}

/** Shard events of a flow, read with plain SQL: [type, shard index, attempt]. */
async function shardEvents(schema: string, flowId: string): Promise<[string, number, number][]> {
  const rows = await adminQuery<{ event_type: string; shard: number; attempt: number | null }>(
    `SELECT event_type, (payload->'shard'->>'index')::int AS shard, (payload->>'attempt')::int AS attempt
     FROM ${schema}.event_log WHERE flow_id = $1::uuid AND payload ? 'shard' ORDER BY version`,
    [flowId],
  );
  return rows.map((r) => [r.event_type, r.shard, r.attempt ?? 0]);
}

const FAST = ['worker', '--json', '--lease-ms', '1500', '--heartbeat-ms', '300', '--poll-ms', '200'];

describe.skipIf(!pgAvailable)('sharded steps across worker processes on PostgreSQL', () => {
  let db: PgDb;
  let ws: Workspace;
  let workers: Background[] = [];
  const cli = (...args: string[]) => chemflow(['--db', db.url, ...args], { cwd: ws.dir });
  const submit = async (file: string): Promise<string> => {
    const result = await cli('submit', file);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.trim();
  };
  const startWorkers = async (n: number) => {
    workers = Array.from({ length: n }, () => background(['--db', db.url, ...FAST], ws.dir));
    for (const w of workers) await waitUntil(() => w.stderr().includes('Worker '), 'a worker to start', 60_000);
  };
  const finished = (flowId: string) => () => workers.flatMap((w) => workerLines(w.stdout())).find((l) => l.flowId === flowId);

  beforeAll(async () => {
    db = await createPgDb('shards');
    ws = await workspace();
    await ws.write('steps/shards.mjs', STEPS);
    await ws.write('whole.yaml', flowFile(false, false));
    await ws.write('mapped.yaml', flowFile(true, false));
    await ws.write('held.yaml', flowFile(true, true));
    await ws.write('whole-held.yaml', flowFile(false, true)); // unmapped, nothing holds: the reference
    const migrated = await cli('migrate');
    expect(migrated.code, migrated.stderr).toBe(0);
  }, 120_000);
  afterEach(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    workers = [];
  });
  afterAll(async () => {
    await db.drop();
    await ws.remove();
  });

  const cleanFingerprint = async (file: string): Promise<string> => {
    const clean = await cli('run', file, '--json', '--quiet');
    expect(clean.code, clean.stderr).toBe(0);
    return (JSON.parse(clean.stdout) as { flowFingerprint: string }).flowFingerprint;
  };

  it('runs the shards of one step in both workers, each finished exactly once, with the unmapped flow fingerprint', { timeout: 240_000 }, async () => {
    const fingerprint = await cleanFingerprint('whole.yaml');
    await startWorkers(2);
    const flowId = await submit('mapped.yaml');
    const done = await waitUntil(finished(flowId), 'the flow to finish', 120_000, 50);
    expect(done).toMatchObject({ outcome: 'completed', status: 'completed', flowFingerprint: fingerprint });

    const runs = await shardRuns(ws.dir, flowId);
    expect(new Set(runs.map((r) => r.pid))).toEqual(new Set(workers.map((w) => w.pid)));
    const ends = runs.filter((r) => r.what === 'end').map((r) => Number(r.shard)).sort((a, b) => a - b);
    expect(ends).toEqual([0, 1, 2, 3, 4, 5]);
    const events = await shardEvents(db.schema, flowId);
    expect(events.filter(([type]) => type === 'StepFinished').map(([, shard]) => shard).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await errorRows(db.schema, flowId)).toEqual([]);
  });

  it('a worker SIGKILLed mid-shard: that shard is recovered as WORKER_LOST and run again by the other, every shard finished once', { timeout: 240_000 }, async () => {
    const fingerprint = await cleanFingerprint('whole-held.yaml');
    await startWorkers(2);
    const flowId = await submit('held.yaml');
    const held = join(ws.dir, `held-${flowId}.marker`);
    await waitUntil(fileExists(held), 'shard 3 to start', 120_000);
    const { readFile } = await import('node:fs/promises');
    const holderPid = Number(await readFile(held, 'utf8'));
    const doomed = workers.find((w) => w.pid === holderPid);
    expect(doomed, 'the shard runs in one of the two workers').toBeDefined();
    doomed?.kill('SIGKILL');
    await doomed?.exited;
    await writeFile(join(ws.dir, 'release.marker'), '');

    const done = await waitUntil(finished(flowId), 'the surviving worker to finish the flow', 120_000, 50);
    expect(done).toMatchObject({ outcome: 'completed', status: 'completed', flowFingerprint: fingerprint });

    const errors = await adminQuery<{ step_id: string; attempt_number: number; error_class: string; code: string; shard: unknown }>(
      `SELECT step_id, attempt_number, error_class, details->>'error_code' AS code, details->'shard' AS shard
       FROM ${db.schema}.step_execution_errors WHERE flow_id = $1::uuid ORDER BY id`,
      [flowId],
    );
    expect(errors).toEqual([{ step_id: 'square', attempt_number: 1, error_class: 'Transient', code: 'WORKER_LOST', shard: { index: 3, count: 6 } }]);

    const runs = await shardRuns(ws.dir, flowId);
    // Shard 3: its first attempt started in the killed worker and never ended; its second ran once, elsewhere.
    expect(runs.filter((r) => r.shard === '3').map((r) => [r.attempt, r.pid === holderPid, r.what])).toEqual([
      [1, true, 'start'],
      [2, false, 'start'],
      [2, false, 'end'],
    ]);
    const events = await shardEvents(db.schema, flowId);
    expect(events.filter(([type]) => type === 'StepFinished').map(([, shard]) => shard).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(events.filter(([type]) => type === 'StepFailed')).toEqual([['StepFailed', 3, 1]]);
    // No shard had two attempts running at once: every start is followed by its end (or by the kill).
    for (const shard of ['0', '1', '2', '4', '5']) expect(runs.filter((r) => r.shard === shard).map((r) => r.what)).toEqual(['start', 'end']);
  });
});
