import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, spawnCli, type Workspace, workspace } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

const TINY_FLOW = `name: tiny
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: { n: 3 } }
  - { id: double, uses: ./steps/double.mjs }
`;

/** Polls `check` until it returns a value, within a deadline sized for a loaded machine. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} never happened`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('chemflow worker --metrics-port', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('tiny.yaml', TINY_FLOW);
  });
  afterAll(() => ws.remove());

  it('serves Prometheus metrics on /metrics while it runs, and stops serving on SIGTERM (exit 0)', { timeout: 180_000 }, async () => {
    const submitted = await ws.cli('submit', 'tiny.yaml');
    expect(submitted.code, submitted.stderr).toBe(0);
    const child = spawnCli(['--db', ws.db, 'worker', '--metrics-port', '0', '--poll-ms', '200', '--json'], { cwd: ws.dir });
    let stderr = '';
    let stdout = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const killer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    try {
      const port = await eventually('the metrics line on stderr', () =>
        Promise.resolve(/Metrics on http:\/\/localhost:(\d+)\/metrics/.exec(stderr)?.[1]),
      );
      const url = `http://127.0.0.1:${port}/metrics`;
      const text = await eventually('a completed flow in the metrics', async () => {
        const body = await (await fetch(url)).text();
        return /^chemflow_flows_completed_total 1$/m.test(body) ? body : undefined;
      });
      expect(text).toMatch(/^chemflow_flows_claimed_total 1$/m);
      expect(text).toMatch(/^chemflow_steps_finished_total 2$/m);
      expect(text).toMatch(/^chemflow_step_attempts_failed_total\{error_class="Transient"\} 0$/m);
      expect(text).toMatch(/^chemflow_step_duration_seconds_count 2$/m);
      expect(text).toMatch(/^chemflow_queue_depth\{status="pending"\} 0$/m);
      expect(text).toMatch(/^# TYPE chemflow_flows_completed_total counter$/m);
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
      const response = await fetch(url);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      await response.text();
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
      expect(stdout).toMatch(/"outcome":"completed"/);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await expect(fetch(url)).rejects.toThrow(); // the server stopped with the worker
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });

  it('a port out of range is bad usage (exit 2)', { timeout: 60_000 }, async () => {
    for (const port of ['65536', '-1', 'http']) {
      const result = await ws.cli('worker', '--once', '--metrics-port', port);
      expect(result.code, `${port}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(/--metrics-port/);
    }
  });

  it('a port in use is a clear error (exit 2), before any flow is run', { timeout: 120_000 }, async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    try {
      const { port } = blocker.address() as { port: number };
      await ws.cli('submit', 'tiny.yaml');
      const result = await ws.cli('worker', '--once', '--metrics-port', String(port));
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`Cannot serve metrics on port ${port}: the port is in use by another process`);
      expect(result.stdout).toBe('');
      const pending = await ws.json<{ status: string }[]>('flows', '--status', 'pending');
      expect(pending).toHaveLength(1);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
