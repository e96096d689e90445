// A worker never sleeps through one flow's retry backoff, and SIGTERM is honoured
// within a second when no attempt is in flight (real processes, real signals).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { chemflow, ensureBuilt, spawnCli, waitUntil, workspace, type Workspace } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

const BACKOFF_FLOW = `name: backoff
retry: { maxRetries: 3, backoff: { kind: exponential, baseMs: 20000 } }
steps:
  - { id: seed, uses: ./steps/seed.mjs }
  - { id: flaky, uses: ./steps/flaky.mjs#flaky }
`;

// PostgreSQL: the test reads the flows while the worker runs, and two processes must never open one
// embedded database directory.
describeWithPg('chemflow worker and retry backoffs', () => {
  let ws: Workspace;
  let schema: TestSchema;
  const cli = (...args: string[]) => chemflow(['--db', schema.url, ...args], { cwd: ws.dir });
  const json = async <T>(...args: string[]): Promise<T> => JSON.parse((await cli(...args, '--json')).stdout) as T;
  beforeAll(async () => {
    schema = await createTestSchema('worker_signals');
    ws = await workspace();
    await ws.write('backoff.yaml', BACKOFF_FLOW);
    await ws.write('slow.yaml', 'name: quick\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: double, uses: ./steps/double.mjs }\n');
  });
  afterAll(async () => {
    await schema.drop();
    await ws.remove();
  });

  it('runs a flow submitted during another flow\'s 20 s backoff at once, and stops within a second on SIGTERM', { timeout: 120_000 }, async () => {
    const waitingId = (await cli('submit', 'backoff.yaml')).stdout.trim();
    const worker = spawnCli(['--db', schema.url, 'worker', '--json', '--poll-ms', '60000'], { cwd: ws.dir });
    let stdout = '';
    let stderr = '';
    worker.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    worker.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => worker.on('close', resolve));
    try {
      // The first attempt of `flaky` fails Transient: its retry is due in 20 s.
      await waitUntil(async () => (await json<{ steps: { retryCount: number }[] }>('status', waitingId)).steps[1]?.retryCount === 1, 'the retry');
      // Submitted by another process while the worker is idle: NOTIFY wakes it, rather than the end of
      // the backoff (20 s) or of its poll (60 s).
      const quickId = (await cli('submit', 'slow.yaml')).stdout.trim();
      const submittedAt = Date.now();
        await waitUntil(() => stdout.includes(`"flowId":"${quickId}","outcome":"completed"`), 'the second flow', 15_000);
      expect(Date.now() - submittedAt).toBeLessThan(15_000);

      const signalledAt = Date.now();
      worker.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - signalledAt).toBeLessThan(1_000 + 1_500); // a second, plus a loaded machine's process exit
      const events = await json<{ type: string }[]>('events', waitingId);
      expect(events.at(-1)?.type).toBe('RetryScheduled'); // no attempt started after the signal
      expect(stderr).not.toMatch(/Error/);
    } finally {
      worker.kill('SIGKILL');
    }
  });
});

