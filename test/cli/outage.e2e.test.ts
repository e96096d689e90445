// A worker rides out a database outage of any length. The outage is a TCP proxy
// this test owns in front of the shared server, never the server itself.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminQuery, describeWithPg, TEST_PG_URL } from '../helpers/pg.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { chemflow, ensureBuilt, spawnCli, waitUntil, workspace, type Workspace } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

/** Each execution appends `flowId stepId attempt` to executions.log; `wait` takes ~1.5 s. */
const STEPS = `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
const log = (ctx) => appendFileSync(join(ctx.baseDir, 'executions.log'), \`\${ctx.flowId} \${ctx.stepId} \${ctx.attempt}\\n\`);
export const source = { kind: 'source', run(ctx) { log(ctx); return { outputs: [{ kind: 'n', payload: { n: 1 } }] }; } };
export const wait = {
  kind: 'transform',
  async run(ctx) {
    log(ctx);
    await new Promise((r) => setTimeout(r, 1500));
    return { outputs: [{ kind: 'n', payload: { n: ctx.input[0].payload.n + 1 } }] };
  },
};
`;
const FLOW = `name: outage
steps:
  - { id: seed, uses: ./steps/outage.mjs#source }
  - { id: a, uses: ./steps/outage.mjs#wait }
  - { id: b, uses: ./steps/outage.mjs#wait }
`;


describeWithPg('a worker during a database outage', () => {
  const schema = `cf_outage_${randomBytes(5).toString('hex')}`;
  const direct = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  let proxy: TcpProxy;
  let ws: Workspace;
  beforeAll(async () => {
    await adminQuery(`CREATE SCHEMA ${schema}`);
    proxy = await startTcpProxy({ host: new URL(TEST_PG_URL).hostname, port: Number(new URL(TEST_PG_URL).port || 5432) });
    ws = await workspace();
    await ws.write('steps/outage.mjs', STEPS);
    await ws.write('outage.yaml', FLOW);
  });
  afterAll(async () => {
    await proxy?.close();
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await ws?.remove();
  });

  it('stays up through 8 s without the database, then finishes every flow: nothing lost, nothing run twice', { timeout: 240_000 }, async () => {
    const url = new URL(TEST_PG_URL);
    url.port = String(proxy.port);
    const viaProxy = `${url.toString()}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const submit = async (): Promise<string> => {
      const result = await chemflow(['--db', direct, 'submit', 'outage.yaml'], { cwd: ws.dir });
      expect(result.code, result.stderr).toBe(0);
      return result.stdout.trim();
    };
    const first = await submit();
    const worker = spawnCli(['--db', viaProxy, 'worker', '--json', '--lease-ms', '4000', '--heartbeat-ms', '1000', '--poll-ms', '500'], { cwd: ws.dir });
    let stdout = '';
    let stderr = '';
    worker.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    worker.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((resolve) => worker.on('close', (code) => ((exitCode = code), resolve())));
    const log = join(ws.dir, 'executions.log');
    try {
      // Cut the database while step `a` of the first flow is running.
      await waitUntil(async () => existsSync(log) && (await readFile(log, 'utf8')).includes(`${first} a 1`), 'step a');
      await proxy.cut();
      const second = await submit(); // submitted directly while the worker cannot see the database
      await new Promise((r) => setTimeout(r, 8_000));
      expect(exitCode, stderr).toBeUndefined(); // still running
      await proxy.restore();

      await waitUntil(() => [first, second].every((id) => stdout.includes(`"flowId":"${id}","outcome":"completed"`)), 'both flows completed');
      expect(stderr.match(/Database unreachable/g)?.length ?? 0).toBeGreaterThanOrEqual(1);
      expect(stderr).toMatch(/Database reachable again after/);

      const executions = (await readFile(log, 'utf8')).trim().split('\n');
      expect(new Set(executions).size).toBe(executions.length); // no attempt ran twice
      for (const flowId of [first, second]) {
        const events = JSON.parse((await chemflow(['--db', direct, 'events', flowId, '--json'], { cwd: ws.dir })).stdout) as { type: string; version: number }[];
        expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
        expect(events.at(-1)?.type).toBe('FlowCompleted');
        const started = events.filter((e) => e.type === 'StepStarted').length;
        const ended = events.filter((e) => e.type === 'StepFinished' || e.type === 'StepFailed').length;
        expect(ended).toBe(started); // every attempt has exactly one recorded outcome
      }
      const fingerprints = new Set(
        [first, second].map((id) => (JSON.parse(stdout.split('\n').find((l) => l.includes(`"flowId":"${id}","outcome":"completed"`)) ?? '{}') as { flowFingerprint?: string }).flowFingerprint),
      );
      expect(fingerprints.size).toBe(1);
    } finally {
      worker.kill('SIGTERM');
      await exited;
    }
    expect(exitCode).toBe(0);
  });
});
