// Step code that misbehaves, run by real `chemflow run` and `chemflow worker` processes on PostgreSQL
// and on the embedded database (PGlite): a step that calls process.exit(), one that throws after it
// returned, one that must be told through ctx.signal that its time is up, and a cacheKey hook that
// never settles. Each attempt ends with its own outcome, and the process goes on.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAvailable } from '../helpers/pg.js';
import { chemflow, E2E_TIMEOUT_MS, ensureBuilt, workspace, type CliResult, type Workspace } from './support/cli.js';
import { createPgDb, workerLines } from './support/processes.js';

beforeAll(ensureBuilt, 180_000);

const STEPS = `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
const note = (ctx, what) => appendFileSync(join(ctx.baseDir, 'notes.log'), ctx.flowId + ' ' + ctx.stepId + ' ' + what + '\\n');
const out = (n) => ({ outputs: [{ kind: 'number', payload: { n } }] });
export const seed = { kind: 'source', run: () => out(1) };
export const exits = { kind: 'transform', run() { process.exit(4); } };
// Returns, and throws from a timer while the flow's next step runs in the same thread.
export const late = { kind: 'transform', run() { setTimeout(() => { throw new Error('thrown after returning'); }, 300); return out(2); } };
export const wait = { kind: 'transform', async run() { await new Promise((r) => setTimeout(r, 1500)); return out(3); } };
export const polite = { kind: 'transform', run(ctx) {
  ctx.emit('progress', 'half way');
  return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => {
    note(ctx, 'aborted ' + ctx.signal.reason.code);
    setTimeout(() => { note(ctx, 'cleaned up'); reject(ctx.signal.reason); }, 100);
  }));
} };
export const hangingKey = { kind: 'transform', cacheKey: () => new Promise(() => {}), run: () => out(4) };
`;

const flow = (name: string, steps: string[], extra = ''): string =>
  [`name: ${name}`, 'retry: { maxRetries: 0 }', ...(extra === '' ? [] : [extra]), 'steps:', ...steps.map((s) => `  - ${s}`), ''].join('\n');

const FLOWS: Record<string, string> = {
  'exits.yaml': flow('exits', ['{ id: seed, uses: ./steps/bad.mjs#seed }', '{ id: exits, uses: ./steps/bad.mjs#exits, timeoutMs: 60000 }']),
  'late.yaml': flow('late', ['{ id: seed, uses: ./steps/bad.mjs#seed }', '{ id: late, uses: ./steps/bad.mjs#late }', '{ id: wait, uses: ./steps/bad.mjs#wait }']),
  'polite.yaml': flow('polite', ['{ id: seed, uses: ./steps/bad.mjs#seed }', '{ id: polite, uses: ./steps/bad.mjs#polite, timeoutMs: 3000 }']),
  'hanging-key.yaml': flow('hanging-key', ['{ id: seed, uses: ./steps/bad.mjs#seed }', '{ id: key, uses: ./steps/bad.mjs#hangingKey, timeoutMs: 3000 }'], 'cache: true'),
};

interface StoredEvent {
  type: string;
  stepId?: string;
  name?: string;
  data?: unknown;
}

const BACKENDS = [
  {
    name: 'PostgreSQL',
    skip: !pgAvailable,
    open: async () => {
      const db = await createPgDb('misbehave');
      return { location: db.url, drop: db.drop };
    },
  },
  { name: 'PGlite', skip: false, open: (ws: Workspace) => Promise.resolve({ location: join(ws.dir, 'db'), drop: () => Promise.resolve() }) },
];

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(`misbehaving step code on ${backend.name}`, () => {
    let ws: Workspace;
    let location: string;
    let drop: () => Promise<void>;
    const cli = (...args: string[]): Promise<CliResult> => chemflow(['--db', location, ...args], { cwd: ws.dir, timeoutMs: 150_000 });
    const json = async <T>(...args: string[]): Promise<T> => {
      const result = await cli(...args, '--json');
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as T;
    };
    /** The error rows of a flow: class, code and the details the failure carried. */
    const errorRows = async (flowId: string): Promise<[string, string, string, unknown][]> =>
      (await json<{ stepId: string; errorClass: string; details: Record<string, unknown> }[]>('errors', flowId)).map((e) => [
        e.stepId,
        e.errorClass,
        String(e.details.error_code),
        e.details.exitCode,
      ]);

    beforeAll(async () => {
      ws = await workspace();
      ({ location, drop } = await backend.open(ws));
      await ws.write('steps/bad.mjs', STEPS);
      for (const [file, text] of Object.entries(FLOWS)) await ws.write(file, text);
    }, 120_000);
    afterAll(async () => {
      await drop();
      await ws.remove();
    });

    it('each attempt ends with its own outcome under `run` and under one worker, which goes on to the next flow', { timeout: E2E_TIMEOUT_MS }, async () => {
      // `run`: a step that calls process.exit() fails at once, with its own code, not TIMEOUT.
      const run = await cli('run', 'exits.yaml');
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(/failed: step exits failed on attempt 1 \(Runtime STEP_EXITED: The step called process\.exit\(4\)/);

      const ids: Record<string, string> = {};
      for (const file of ['exits.yaml', 'late.yaml', 'polite.yaml', 'hanging-key.yaml'])
        ids[file] = (await json<{ flowId: string }>('submit', file)).flowId;
      // One thread: the step after `late` runs where `late`'s timer throws.
      const worker = await cli('worker', '--once', '--json', '--concurrency', '1', '--poll-ms', '100');
      expect(worker.code, worker.stderr).toBe(1); // some flows failed
      const outcomes = new Map(workerLines(worker.stdout).map((l) => [l.flowId, l]));
      expect(outcomes.get(ids['exits.yaml']!)).toMatchObject({ outcome: 'failed', error: expect.stringContaining('Runtime STEP_EXITED') as unknown });
      expect(outcomes.get(ids['late.yaml']!)).toMatchObject({ outcome: 'completed' });
      expect(outcomes.get(ids['polite.yaml']!)).toMatchObject({ outcome: 'failed', error: expect.stringContaining('Transient TIMEOUT') as unknown });
      expect(outcomes.get(ids['hanging-key.yaml']!)).toMatchObject({ outcome: 'failed', error: expect.stringContaining('Transient TIMEOUT') as unknown });

      // The late error is said, naming the step it came from, and blamed on nothing else (the flow completed).
      expect(worker.stderr).toContain(`Step late of flow ${ids['late.yaml']} (attempt 1) threw ERROR: thrown after returning after its attempt had returned`);

      expect(await errorRows(ids['exits.yaml']!)).toEqual([['exits', 'Runtime', 'STEP_EXITED', 4]]);
      // ctx.signal aborted in the step's thread, the step cleaned up, and its signal is kept.
      const polite = await json<StoredEvent[]>('events', ids['polite.yaml']!);
      expect(polite.filter((e) => e.stepId === 'polite').map((e) => e.type)).toEqual(['StepStarted', 'StepSignal', 'StepFailed']);
      expect(polite.find((e) => e.type === 'StepSignal')).toMatchObject({ name: 'progress', data: 'half way' });
      const notes = (await readFile(join(ws.dir, 'notes.log'), 'utf8')).trim().split('\n');
      expect(notes).toEqual([`${ids['polite.yaml']} polite aborted TIMEOUT`, `${ids['polite.yaml']} polite cleaned up`]);
    });
  });
}
