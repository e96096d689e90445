// Leases with real processes on PostgreSQL. A worker SIGKILLed mid-step is
// recovered by another worker running with the default settings within the lease (30 s) plus a few
// seconds, not the 15 minutes of the old --stale-after; a step slower than the lease but alive is never
// taken over, because its worker's heartbeat keeps renewing the lease.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAvailable } from '../helpers/pg.js';
import { chemflow, ensureBuilt, workspace, type Workspace } from './support/cli.js';
import {
  background,
  createPgDb,
  errorRows,
  eventRows,
  fileExists,
  readExecutions,
  RECORDING_STEPS,
  waitUntil,
  workerLines,
  type PgDb,
} from './support/processes.js';

beforeAll(ensureBuilt, 180_000);

/** The default lease of `chemflow worker` (src/runtime/lease-keeper.ts), asserted against below. */
const DEFAULT_LEASE_MS = 30_000;

const HELD_FLOW = `name: held
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/recording.mjs#source, params: { n: 4 } }
  - { id: hold, uses: ./steps/recording.mjs#hold }
  - { id: bump, uses: ./steps/recording.mjs#increment }
`;

/** `nap` takes 5 s: more than three times the 1.5 s lease of the workers that run it. */
const NAP_FLOW = `name: nap
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/recording.mjs#source }
  - { id: nap, uses: ./steps/recording.mjs#increment, params: { ms: 5000 } }
  - { id: bump, uses: ./steps/recording.mjs#increment }
`;

/** `spin` blocks its thread's event loop for 4 s: more than twice the 1.5 s lease. */
const SPIN_FLOW = `name: spin
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/recording.mjs#source }
  - { id: spin, uses: ./steps/recording.mjs#spin, params: { ms: 4000 } }
  - { id: bump, uses: ./steps/recording.mjs#increment }
`;

describe.skipIf(!pgAvailable)('leases on PostgreSQL, with real worker processes', () => {
  let db: PgDb;
  let ws: Workspace;
  const cli = (...args: string[]) => chemflow(['--db', db.url, ...args], { cwd: ws.dir });
  const submit = async (file: string): Promise<string> => {
    const result = await cli('submit', file);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.trim();
  };

  beforeAll(async () => {
    db = await createPgDb('lease');
    ws = await workspace();
    await ws.write('steps/recording.mjs', RECORDING_STEPS);
    await ws.write('held.yaml', HELD_FLOW);
    await ws.write('nap.yaml', NAP_FLOW);
    await ws.write('spin.yaml', SPIN_FLOW);
    const migrated = await cli('migrate');
    expect(migrated.code, migrated.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await db.drop();
    await ws.remove();
  });

  it(
    'a worker SIGKILLed mid-step: another worker with default settings finishes the flow within the lease plus a few seconds',
    { timeout: 240_000 },
    async () => {
      // The same flow file run without interruption, for its fingerprint.
      await writeFile(join(ws.dir, 'release.marker'), '');
      const clean = await cli('run', 'held.yaml', '--json', '--quiet');
      expect(clean.code, clean.stderr).toBe(0);
      const cleanFingerprint = (JSON.parse(clean.stdout) as { flowFingerprint: string }).flowFingerprint;
      await rm(join(ws.dir, 'release.marker'));

      const flowId = await submit('held.yaml');
      const doomed = background(['--db', db.url, 'worker', '--json'], ws.dir);
      await waitUntil(fileExists(join(ws.dir, `started-${flowId}-1.marker`)), 'the first attempt of hold', 60_000);
      // A second worker, with every setting at its default, is running before the first one dies.
      const survivor = background(['--db', db.url, 'worker', '--json'], ws.dir);
      await waitUntil(() => survivor.stderr().includes('Worker '), 'the second worker to start', 60_000);

      doomed.kill('SIGKILL');
      await doomed.exited;
      const killedAt = Date.now();
      await writeFile(join(ws.dir, 'release.marker'), '');

      const done = await waitUntil(
        () => workerLines(survivor.stdout()).find((l) => l.flowId === flowId),
        'the second worker to finish the flow',
        DEFAULT_LEASE_MS + 60_000,
        50,
      );
      const elapsed = Date.now() - killedAt;
      console.info(`[lease.e2e] flow finished ${(elapsed / 1000).toFixed(1)} s after its worker was SIGKILLed (lease ${DEFAULT_LEASE_MS / 1000} s)`);
      survivor.kill('SIGTERM');
      expect(await survivor.exited, survivor.stderr()).toBe(0);

      expect(done).toMatchObject({ outcome: 'completed', status: 'completed', flowFingerprint: cleanFingerprint });
      // At most one lease (30 s) after the kill, plus the worker's wake-up and the rest of the flow;
      // generous for a loaded machine, and 20 times under the old 15-minute recovery.
      expect(elapsed).toBeLessThan(DEFAULT_LEASE_MS + 15_000);

      const errors = await errorRows(db.schema, flowId);
      expect(errors.map((e) => [e.step_id, e.attempt_number, e.error_class, e.error_code])).toEqual([['hold', 1, 'Transient', 'WORKER_LOST']]);

      const events = await eventRows(db.schema, flowId);
      expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1)); // 1..n, no gap
      expect(events.map((e) => [e.event_type, e.payload.stepId ?? null, e.payload.attempt ?? null])).toEqual([
        ['FlowInitialized', null, null],
        ['StepStarted', 'seed', 1],
        ['StepFinished', 'seed', 1],
        ['StepStarted', 'hold', 1],
        ['StepFailed', 'hold', 1],
        ['RetryScheduled', 'hold', null],
        ['StepStarted', 'hold', 2],
        ['StepFinished', 'hold', 2],
        ['StepStarted', 'bump', 1],
        ['StepFinished', 'bump', 1],
        ['FlowCompleted', null, null],
      ]);

      // Each attempt's side effects happened once: the killed attempt started and never ended.
      const runs = (await readExecutions(ws.dir)).filter((x) => x.flowId === flowId);
      expect(runs.map((x) => [x.stepId, x.attempt, x.pid, x.what])).toEqual([
        ['seed', 1, doomed.pid, 'start'],
        ['seed', 1, doomed.pid, 'end'],
        ['hold', 1, doomed.pid, 'start'],
        ['hold', 2, survivor.pid, 'start'],
        ['hold', 2, survivor.pid, 'end'],
        ['bump', 1, survivor.pid, 'start'],
        ['bump', 1, survivor.pid, 'end'],
      ]);
    },
  );

  it('a step slower than the lease but alive is never taken over by a worker polling beside it', { timeout: 180_000 }, async () => {
    // Two workers with a 1.5 s lease are up before the flow exists: whichever claims it runs the 5 s
    // step, the other polls every 100 ms all along and must never see the lease expire.
    const fast = ['worker', '--json', '--lease-ms', '1500', '--heartbeat-ms', '300', '--poll-ms', '100'];
    const workers = [background(['--db', db.url, ...fast], ws.dir), background(['--db', db.url, ...fast], ws.dir)];
    for (const w of workers) await waitUntil(() => w.stderr().includes('Worker '), 'a worker to start', 60_000);
    const flowId = await submit('nap.yaml');

    const done = await waitUntil(
      () => workers.flatMap((w) => workerLines(w.stdout())).find((l) => l.flowId === flowId),
      'the flow to finish',
      120_000,
      50,
    );
    for (const w of workers) w.kill('SIGTERM');
    for (const w of workers) expect(await w.exited, w.stderr()).toBe(0);

    expect(done).toMatchObject({ outcome: 'completed', status: 'completed' });
    const naps = (await readExecutions(ws.dir)).filter((x) => x.flowId === flowId && x.stepId === 'nap');
    const holder = naps[0]?.pid;
    expect(workers.map((w) => w.pid)).toContain(holder);
    expect(naps.map((x) => [x.attempt, x.pid, x.what])).toEqual([
      [1, holder, 'start'],
      [1, holder, 'end'],
    ]);
    expect((naps[1]?.at ?? 0) - (naps[0]?.at ?? 0)).toBeGreaterThanOrEqual(5_000); // it outlived three leases
    const other = workers.find((w) => w.pid !== holder);
    expect(workerLines(other?.stdout() ?? '')).toEqual([]);
    expect(await errorRows(db.schema, flowId)).toEqual([]);
    const attempts = (await eventRows(db.schema, flowId))
      .filter((e) => e.event_type === 'StepStarted')
      .map((e) => `${e.payload.stepId}#${e.payload.attempt}`);
    expect(attempts).toEqual(['seed#1', 'nap#1', 'bump#1']);
  });

  it('a step that computes longer than the lease without yielding keeps its lease: it runs in a step thread, the heartbeat goes on', { timeout: 180_000 }, async () => {
    const fast = ['worker', '--json', '--lease-ms', '1500', '--heartbeat-ms', '300', '--poll-ms', '100'];
    const workers = [background(['--db', db.url, ...fast], ws.dir), background(['--db', db.url, ...fast], ws.dir)];
    for (const w of workers) await waitUntil(() => w.stderr().includes('Worker '), 'a worker to start', 60_000);
    const flowId = await submit('spin.yaml');
    const done = await waitUntil(
      () => workers.flatMap((w) => workerLines(w.stdout())).find((l) => l.flowId === flowId),
      'the flow to finish',
      120_000,
      50,
    );
    for (const w of workers) w.kill('SIGTERM');
    for (const w of workers) expect(await w.exited, w.stderr()).toBe(0);
    expect(done).toMatchObject({ outcome: 'completed', status: 'completed' });
    const spins = (await readExecutions(ws.dir)).filter((x) => x.flowId === flowId && x.stepId === 'spin');
    expect(spins.map((x) => [x.attempt, x.what])).toEqual([
      [1, 'start'],
      [1, 'end'],
    ]);
    expect(await errorRows(db.schema, flowId)).toEqual([]);
  });
});
