// `chemflow ui` stopped by SIGTERM while it runs a flow of its own (a real child process, a real signal):
// the attempt in flight records its result, no further step starts, and the flow is left pending with
// nothing Running, so no later process has an attempt to recover as lost.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { E2E_TIMEOUT_MS, ensureBuilt, SLOW_FLOW, workspace, type Workspace } from './support/cli.js';
import { background, waitUntil, type Background } from './support/processes.js';

beforeAll(ensureBuilt, 180_000);

let ws: Workspace | undefined;
let ui: Background | undefined;
afterEach(async () => {
  if (ws !== undefined) await writeFile(join(ws.dir, 'release.marker'), '').catch(() => undefined);
  ui?.kill('SIGKILL');
  await ui?.exited;
  await ws?.remove();
  ws = undefined;
  ui = undefined;
});

interface StepStatus {
  stepId: string;
  status: string;
}
interface LoggedEvent {
  type: string;
  stepId?: string;
}

it('SIGTERM while the server runs a step: the step ends and is recorded, the flow is left pending, the server exits 0', { timeout: E2E_TIMEOUT_MS }, async () => {
  ws = await workspace();
  await ws.write('slow.yaml', SLOW_FLOW);
  const { flowId } = await ws.json<{ flowId: string }>('submit', 'slow.yaml');

  const server = background(['--db', ws.db, 'ui', '--port', '0'], ws.dir);
  ui = server;
  const url = await waitUntil(() => /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/m.exec(server.stdout())?.[0], `the address of chemflow ui (${server.stderr()})`);
  const address = new URL(url);
  const token = address.searchParams.get('token') ?? '';
  const resumed = await fetch(`${address.origin}/api/flows/${flowId}/resume`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  expect(resumed.status).toBe(202);
  const workspaceDir = ws.dir;
  await waitUntil(() => existsSync(join(workspaceDir, 'started.marker')), 'the slow step to start in the server');

  let exited = false;
  void server.exited.then(() => (exited = true));
  server.kill('SIGTERM');
  await waitUntil(() => server.stderr().includes('Stopping after the current step of 1 flow(s) run here'), `the server to say it stops (${server.stderr()})`);
  // It waits for the attempt in flight instead of leaving it Running.
  expect(exited).toBe(false);
  // Nor does it take another action: the port is closed (or the run is refused).
  const again = await fetch(`${address.origin}/api/flows/${flowId}/resume`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then(
    (r) => r.status,
    () => 'closed',
  );
  expect(again).not.toBe(202);
  await writeFile(join(ws.dir, 'release.marker'), '');
  await expect(server.exited).resolves.toBe(0);

  const events = await ws.json<LoggedEvent[]>('events', flowId);
  const ofSlow = events.filter((e) => e.stepId === 'slow').map((e) => e.type);
  expect(ofSlow).toEqual(['StepStarted', 'StepFinished']);
  expect(events.some((e) => e.stepId === 'double')).toBe(false);
  const status = await ws.json<{ status: string; steps: StepStatus[]; errors: { total: number } }>('status', flowId);
  // Between two steps, due for any process to run: not failed, not waiting for a lease to expire.
  expect(status.status).toBe('running');
  const queued = await ws.json<{ flowId: string; status: string }[]>('flows');
  expect(queued.find((f) => f.flowId === flowId)?.status).toBe('pending');
  expect(status.steps.map((s) => [s.stepId, s.status])).toEqual([
    ['seed', 'FinishedOk'],
    ['slow', 'FinishedOk'],
    ['double', 'Pending'],
  ]);

  // The next process continues from there: nothing was lost, so no failed attempt is recorded.
  const finished = await ws.json<{ status: string; errors: { total: number } }>('resume', flowId);
  expect(finished.status).toBe('completed');
  expect(finished.errors.total).toBe(0);
});
