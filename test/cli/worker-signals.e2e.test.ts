// Issue 11 item 4: a worker never sleeps through one flow's retry backoff, and SIGTERM is honoured
// within a second when no attempt is in flight (real processes, real signals).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, spawnCli, workspace, type Workspace } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

const BACKOFF_FLOW = `name: backoff
retry: { maxRetries: 3, backoff: { kind: exponential, baseMs: 20000 } }
steps:
  - { id: seed, uses: ./steps/seed.mjs }
  - { id: flaky, uses: ./steps/flaky.mjs#flaky }
`;

describe('chemflow worker and retry backoffs', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('backoff.yaml', BACKOFF_FLOW);
    await ws.write('slow.yaml', 'name: quick\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: double, uses: ./steps/double.mjs }\n');
  });
  afterAll(() => ws.remove());

  it('runs a flow submitted during another flow\'s 20 s backoff at once, and stops within a second on SIGTERM', { timeout: 120_000 }, async () => {
    const waitingId = (await ws.cli('submit', 'backoff.yaml')).stdout.trim();
    const worker = spawnCli(['--db', ws.db, 'worker', '--json', '--poll-ms', '60000'], { cwd: ws.dir });
    let stdout = '';
    let stderr = '';
    worker.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    worker.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => worker.on('close', resolve));
    try {
      // The first attempt of `flaky` fails Transient: its retry is due in 20 s.
      await until(async () => (await ws.json<{ steps: { retryCount: number }[] }>('status', waitingId)).steps[1]?.retryCount === 1, 'the retry');
      // Submitted by another process while the worker is idle: the embedded store notifies in-process only,
      // so the worker finds it at its next look, which must not wait for the backoff (20 s) or the poll (60 s).
      const quickId = (await ws.cli('submit', 'slow.yaml')).stdout.trim();
      const submittedAt = Date.now();
      await until(() => stdout.includes(`"flowId":"${quickId}","outcome":"completed"`), 'the second flow', 15_000);
      expect(Date.now() - submittedAt).toBeLessThan(15_000);

      const signalledAt = Date.now();
      worker.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - signalledAt).toBeLessThan(1_000 + 1_500); // a second, plus a loaded machine's process exit
      const events = await ws.json<{ type: string }[]>('events', waitingId);
      expect(events.at(-1)?.type).toBe('RetryScheduled'); // no attempt started after the signal
      expect(stderr).not.toMatch(/Error/);
    } finally {
      worker.kill('SIGKILL');
    }
  });
});

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
