import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_TIMEOUT_MS, ensureBuilt, type Workspace, workspace } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

/** Appends `start end` (epoch ms) of each attempt to spans.log next to the flow file. */
const HOLD_STEP = `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  kind: 'transform',
  async run(ctx) {
    const start = Date.now();
    await new Promise((r) => setTimeout(r, 400));
    appendFileSync(join(ctx.baseDir, 'spans.log'), start + ' ' + Date.now() + '\\n');
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n } }] };
  },
};
`;

const sized = (cpus: number): string => `name: sized-${cpus}
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: { n: 3 } }
  - id: hold
    uses: ./steps/hold.mjs
    resources: { cpus: ${cpus}, memoryMb: 64 }
`;

interface OutcomeLine {
  flowId: string;
  outcome: string;
  error: string | null;
}

const lines = (stdout: string): OutcomeLine[] =>
  stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as OutcomeLine);

describe('resources on the embedded database', { timeout: E2E_TIMEOUT_MS }, () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('steps/hold.mjs', HOLD_STEP);
    await ws.write('one.yaml', sized(1));
    await ws.write('huge.yaml', sized(512));
    await ws.write('typo.yaml', sized(1).replace('cpus:', 'cpu:'));
  });
  afterAll(() => ws.remove());

  it('worker --cpus 1 runs one attempt of a 1-cpu step at a time, whatever its --concurrency', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await ws.cli('submit', 'one.yaml')).stdout.trim());
    const worker = await ws.cli('worker', '--once', '--cpus', '1', '--concurrency', '3', '--poll-ms', '50', '--json');
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stderr).toContain('3 flow(s) at a time, 1 cpus');
    expect(lines(worker.stdout).map((l) => [l.flowId, l.outcome]).sort()).toEqual(ids.map((id) => [id, 'completed']).sort());
    const spans = (await readFile(join(ws.dir, 'spans.log'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.split(' ').map(Number) as [number, number])
      .sort((a, b) => a[0] - b[0]);
    expect(spans).toHaveLength(3);
    // Each attempt started after the one before it ended: never two at once.
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it('a step no worker here can fit: the worker leaves it queued and says why; run refuses it before writing anything', async () => {
    const flowId = (await ws.cli('submit', 'huge.yaml')).stdout.trim();
    const small = await ws.cli('worker', '--once', '--cpus', '2', '--memory-mb', '1000', '--poll-ms', '50', '--json');
    expect(small.code, small.stderr).toBe(0);
    expect(lines(small.stdout)).toEqual([
      { flowId, outcome: 'unfit', status: null, flowFingerprint: null, failedStep: null, error: 'step hold needs 512 cpus, 64 MiB; this worker has 2 cpus, 1000 MiB' },
    ]);
    const flows = await ws.json<{ flowId: string; status: string; leaseOwner: string | null }[]>('flows');
    expect(flows.find((f) => f.flowId === flowId)).toMatchObject({ status: 'pending' });

    const before = flows.length;
    const run = await ws.cli('run', 'huge.yaml', '--cpus', '4');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Step "hold" needs 512 cpus, 64 MiB but this process has 4 cpus');
    expect((await ws.json<unknown[]>('flows')).length).toBe(before);

    // A worker that has enough runs it.
    const big = await ws.cli('worker', '--once', '--cpus', '512', '--concurrency', '1', '--poll-ms', '50', '--json');
    expect(big.code, big.stderr).toBe(0);
    expect(lines(big.stdout)).toMatchObject([{ flowId, outcome: 'completed' }]);
  });

  it('a misspelt key in resources is a flow file error naming the keys it takes', async () => {
    const run = await ws.cli('run', 'typo.yaml');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/steps\[1\]\.resources/);
    expect(run.stderr).toContain('unknown key "cpu"; expected only cpus, memoryMb');
  });
});
