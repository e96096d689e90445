// StepThreads with the real thread entry of the build (dist/cli/step-thread.js): step code that ends
// its thread, throws after it returned, ignores or honours its signal, or has a cacheKey hook that
// never settles.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepDefinition } from '../../src/core/definition.js';
import { FlowCancelledError, LeaseLostError } from '../../src/core/error-class.js';
import { AttemptEndedError, type AttemptContext } from '../../src/runtime/step-runner.js';
import { StepThreads, type StrayStepReport } from '../../src/runtime/step-threads.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';
import { ensureBuilt, ROOT } from '../cli/support/cli.js';

const STEPS = `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
const note = (ctx, what) => appendFileSync(join(ctx.baseDir, 'notes.log'), ctx.stepId + ' ' + what + '\\n');
const out = (n) => ({ outputs: [{ kind: 'number', payload: { n } }] });
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
export const ok = { kind: 'transform', run: () => out(1) };
export const slow = { kind: 'transform', async run() { await pause(700); return out(2); } };
export const exits = { kind: 'transform', run(ctx) { ctx.emit('progress', 'before exit'); process.exit(3); } };
export const lateThrow = { kind: 'transform', run() { setTimeout(() => { throw new Error('late throw'); }, 150); return out(3); } };
export const lateReject = { kind: 'transform', run() { setTimeout(() => void Promise.reject(new Error('late rejection')), 150); return out(4); } };
export const lateExit = { kind: 'transform', run() { setTimeout(() => process.exit(9), 150); return out(5); } };
export const throwsWhileRunning = { kind: 'transform', async run() { setTimeout(() => { throw new Error('own timer'); }, 50); await pause(5000); return out(6); } };
export const polite = { kind: 'transform', run(ctx) {
  ctx.emit('progress', 'half way');
  return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => {
    note(ctx, 'aborted ' + ctx.signal.reason.code);
    setTimeout(() => { note(ctx, 'cleaned up'); reject(ctx.signal.reason); }, 100);
  }));
} };
export const spins = { kind: 'transform', run(ctx) {
  ctx.signal.addEventListener('abort', () => note(ctx, 'aborted'));
  for (;;);
} };
export const hangingKey = { kind: 'transform', cacheKey: () => new Promise(() => {}), run: () => out(7) };
export const spinningKey = { kind: 'transform', cacheKey() { for (;;); }, run: () => out(8) };
export const failingKey = { kind: 'transform', cacheKey() { throw new Error('no key'); }, run: () => out(9) };
export const goodKey = { kind: 'transform', cacheKey: (params, ctx) => ({ p: params.p, inputs: ctx.inputHashes.length }), run: () => out(10) };
`;

let dir: string;
let script: URL;
beforeAll(async () => {
  await ensureBuilt();
  script = pathToFileURL(join(ROOT, 'dist', 'cli', 'step-thread.js'));
  dir = await mkdtemp(join(tmpdir(), 'chemflow-threads-'));
  await writeFile(join(dir, 'steps.mjs'), STEPS);
}, 180_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const step = (name: string, params = {}): StepDefinition => ({
  id: name,
  kind: 'transform',
  baseParams: params,
  origin: { uses: `./steps.mjs#${name}`, baseDir: dir },
  run: () => {
    throw new Error('runs in a thread only');
  },
});
const context = (stepId: string, attempt = 1): AttemptContext => ({ input: [], attempt, flowId: 'f-1', stepId, baseDir: dir, errorHistory: [], cachedSteps: [] });
const run = (threads: StepThreads, name: string, limits: { timeoutMs?: number | null; stop?: AbortSignal } = {}) =>
  threads.run(step(name), context(name), { timeoutMs: limits.timeoutMs ?? null, stop: limits.stop }, { blobs: new MemoryBlobStore() });
const notes = async (): Promise<string[]> => (existsSync(join(dir, 'notes.log')) ? (await readFile(join(dir, 'notes.log'), 'utf8')).trim().split('\n') : []);

/** A pool of one thread: every task after the first runs where the previous one did, unless it was replaced. */
function pool(options: { graceMs?: number } = {}): { threads: StepThreads; strays: StrayStepReport[] } {
  const strays: StrayStepReport[] = [];
  return { threads: new StepThreads(script, 1, { ...options, onStray: (r) => strays.push(r) }), strays };
}

describe('StepThreads and step code that misbehaves', () => {
  it('process.exit() fails its own attempt with STEP_EXITED (Runtime, the exit code in details), keeps its signals, and the next attempt runs', async () => {
    const { threads } = pool();
    try {
      const exited = await run(threads, 'exits', { timeoutMs: 30_000 });
      expect(exited).toMatchObject({ ok: false, error: { errorClass: 'Runtime', code: 'STEP_EXITED', details: { exitCode: 3 } } });
      expect(exited.signals).toEqual([{ name: 'progress', data: 'before exit' }]);
      expect(await run(threads, 'ok')).toMatchObject({ ok: true });
    } finally {
      await threads.close();
    }
  });

  it('an error thrown or a rejection left by a step after it returned never fails the attempt running next; it is reported with the attempt it came from', async () => {
    const { threads, strays } = pool();
    try {
      for (const culprit of ['lateThrow', 'lateReject']) {
        expect(await run(threads, culprit)).toMatchObject({ ok: true });
        // Same (only) thread: the late error arrives while `slow` runs.
        expect(await run(threads, 'slow')).toMatchObject({ ok: true });
        expect(await run(threads, 'ok')).toMatchObject({ ok: true });
      }
      expect(strays.map((s) => [s.kind, s.task?.stepId, s.task?.flowId, s.error.message])).toEqual([
        ['uncaught', 'lateThrow', 'f-1', 'late throw'],
        ['uncaught', 'lateReject', 'f-1', 'late rejection'],
      ]);
    } finally {
      await threads.close();
    }
  });

  it('a step whose timer calls process.exit() after it returned does not fail the attempt it kills: that one runs again on a fresh thread', async () => {
    const { threads, strays } = pool();
    try {
      expect(await run(threads, 'lateExit')).toMatchObject({ ok: true });
      expect(await run(threads, 'slow')).toMatchObject({ ok: true, outputs: [{ payload: { n: 2 } }] });
      expect(strays.map((s) => [s.kind, s.task?.stepId, s.error.code, s.error.details])).toEqual([['exit', 'lateExit', 'STEP_EXITED', { exitCode: 9 }]]);
    } finally {
      await threads.close();
    }
  });

  it('an uncaught error of a step that still runs fails that step', async () => {
    const { threads, strays } = pool();
    try {
      expect(await run(threads, 'throwsWhileRunning')).toMatchObject({ ok: false, error: { errorClass: 'Runtime', message: 'own timer' } });
      expect(strays).toEqual([]);
      expect(await run(threads, 'ok')).toMatchObject({ ok: true });
    } finally {
      await threads.close();
    }
  });

  it('on timeout and on cancel ctx.signal aborts in the thread and the step may clean up; signals emitted before are kept', async () => {
    const { threads } = pool({ graceMs: 10_000 });
    try {
      expect(await run(threads, 'ok')).toMatchObject({ ok: true }); // the thread and the module are loaded
      const started = Date.now();
      const timedOut = await run(threads, 'polite', { timeoutMs: 1_000 });
      expect(timedOut).toMatchObject({ ok: false, error: { errorClass: 'Transient', code: 'TIMEOUT' } });
      expect(timedOut.signals).toEqual([{ name: 'progress', data: 'half way' }]);
      expect(Date.now() - started).toBeLessThan(5_000); // it stopped by itself, well before the grace ran out
      expect(await notes()).toEqual(['polite aborted TIMEOUT', 'polite cleaned up']);

      expect(await run(threads, 'ok')).toMatchObject({ ok: true }); // a fresh thread: the timed-out one was replaced
      const cancel = new AbortController();
      setTimeout(() => cancel.abort(new FlowCancelledError('not needed')), 1_000);
      const cancelled = await run(threads, 'polite', { stop: cancel.signal });
      expect(cancelled).toMatchObject({ ok: false, error: { errorClass: 'Permanent', code: 'FLOW_CANCELLED' } });
      expect((await notes()).slice(2)).toEqual(['polite aborted FLOW_CANCELLED', 'polite cleaned up']);
    } finally {
      await threads.close();
    }
  });

  it('a step that does not stop has its thread terminated after the grace period, or at once after its abort listeners ran when the lease was lost', async () => {
    const { threads } = pool({ graceMs: 1_000 });
    try {
      expect(await run(threads, 'ok')).toMatchObject({ ok: true });
      const started = Date.now();
      expect(await run(threads, 'spins', { timeoutMs: 500 })).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
      expect((await notes()).filter((n) => n.startsWith('spins'))).toEqual([]); // it never yielded: its listener could not run
      expect(await run(threads, 'ok')).toMatchObject({ ok: true });

      const lease = new AbortController();
      setTimeout(() => lease.abort(new LeaseLostError('me')), 1_000);
      const polite = run(threads, 'polite', { stop: lease.signal });
      expect(await polite).toMatchObject({ ok: false, error: { code: 'LEASE_LOST' } });
      await threads.close(); // resolves once the terminated thread is gone: nothing of it can run after
      expect((await notes()).at(-1)).toBe('polite aborted LEASE_LOST'); // its cleanup, 100 ms later, never ran
    } finally {
      await threads.close();
    }
  });

  it('a cacheKey hook is bounded by the attempt: one that never settles or never yields ends it with TIMEOUT; one that throws gives no key', async () => {
    const { threads } = pool({ graceMs: 10_000 });
    const hook = { baseDir: dir, inputHashes: ['a'], flowId: 'f-1', attempt: 1 };
    try {
      for (const name of ['hangingKey', 'spinningKey']) {
        const started = Date.now();
        const ended = await threads.cacheKey(step(name), hook, { timeoutMs: 300 }).catch((e: unknown) => e);
        expect(ended).toBeInstanceOf(AttemptEndedError);
        expect((ended as AttemptEndedError).failure).toMatchObject({ errorClass: 'Transient', code: 'TIMEOUT' });
        expect(Date.now() - started).toBeLessThan(5_000); // no grace: the hook has no signal to honour
      }
      const stop = new AbortController();
      setTimeout(() => stop.abort(new FlowCancelledError(null)), 200);
      const stopped = await threads.cacheKey(step('hangingKey'), hook, { timeoutMs: null, stop: stop.signal }).catch((e: unknown) => e);
      expect((stopped as AttemptEndedError).failure).toMatchObject({ code: 'FLOW_CANCELLED' });
      await expect(threads.cacheKey(step('failingKey'), hook, { timeoutMs: 30_000 })).rejects.toThrow('no key');
      expect(await threads.cacheKey(step('goodKey', { p: 5 }), hook, { timeoutMs: 30_000 })).toEqual({ p: 5, inputs: 1 });
    } finally {
      await threads.close();
    }
  });
});
