import { randomBytes, randomInt } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/stores/open-store.js';
import { adminQuery, createTestSchema, describeWithPg, TEST_PG_URL, urlForSchema, type TestSchema } from '../helpers/pg.js';
import { chemflow, ensureBuilt, waitUntil, workspace, type Workspace } from './support/cli.js';
import {
  checkCrashedFlow,
  finishFlows,
  LOGGED_STEPS,
  manyStepsFlow,
  readExecutions,
  startWorker,
  killLeftoverWorkers,
  SHORT_LEASE,
  afterLeaseExpiry,
  type WorkerProcess,
} from './support/workers.js';

beforeAll(ensureBuilt, 180_000);
afterEach(killLeftoverWorkers);

const STEPS = 40;
/** Enough work that a worker claiming from the queue is still busy when the next kill lands. */
const FLOWS = 8;
/** Crashes take several worker start-ups each (~2 s loaded, ~7 s for PGlite): a generous budget. */
const CRASH_TIMEOUT_MS = 480_000;
const WORKER_ARGS = ['--once', '--concurrency', '2', '--poll-ms', '20', ...SHORT_LEASE];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The flow every test crashes its workers on. */
const FLOW = manyStepsFlow(STEPS);
let cleanRun: Promise<string> | undefined;

/** The flow fingerprint of `FLOW` run once, undisturbed, on the memory store in a workspace of its own (once per file). */
function cleanFingerprint(): Promise<string> {
  cleanRun ??= (async () => {
    const ws = await workspace();
    try {
      await ws.write('steps/logged.mjs', LOGGED_STEPS);
      await ws.write('many.yaml', FLOW);
      const run = await chemflow(['--db', 'memory', 'run', 'many.yaml', '--json'], { cwd: ws.dir });
      expect(run.code, run.stderr).toBe(0);
      return (JSON.parse(run.stdout) as { flowFingerprint: string }).flowFingerprint;
    } finally {
      await ws.remove();
    }
  })();
  return cleanRun;
}

async function submitMany(ws: Workspace, db: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < FLOWS; i++) {
    const submitted = await chemflow(['--db', db, 'submit', 'many.yaml', '--json'], { cwd: ws.dir });
    expect(submitted.code, submitted.stderr).toBe(0);
    ids.push((JSON.parse(submitted.stdout) as { flowId: string }).flowId);
  }
  return ids;
}

/** Starts a worker and waits until it has executed `steps` more steps; null if it ran out of work first. */
async function workerAtWork(ws: Workspace, db: string, steps: number): Promise<WorkerProcess | null> {
  const before = (await readExecutions(ws.dir)).length;
  const worker = startWorker(db, ws.dir, WORKER_ARGS);
  await waitUntil(async () => worker.hasExited() || (await readExecutions(ws.dir)).length >= before + steps, 'the worker to run a step');
  if (!worker.hasExited()) return worker;
  const { code, stderr } = await worker.exited;
  expect(code, stderr).toBe(0);
  return null;
}

/** Finishes every flow after the kills, then checks each one's log against a clean run. */
async function finishAndCheck(ws: Workspace, db: string, flowIds: readonly string[], clean: string): Promise<{ lost: number; attempts: number }> {
  await finishFlows(db, ws.dir, flowIds);
  const executions = await readExecutions(ws.dir);
  const store = await openStore(db);
  try {
    let lost = 0;
    let attempts = 0;
    for (const flowId of flowIds) {
      const check = await checkCrashedFlow(store, flowId, executions, clean);
      lost += check.lostAttempts;
      attempts += check.attempts;
    }
    return { lost, attempts };
  } finally {
    await store.close();
  }
}

/**
 * Worker processes killed with SIGKILL at random moments while they run many short steps, so most
 * kills land during an append: on every store the log keeps every attempt once, and the flows end
 * with the fingerprint of a clean run.
 */
function randomKills(where: string, database: (ws: Workspace) => Promise<{ db: string; drop: () => Promise<void> }>): void {
  it(`on ${where}: SIGKILL at random moments while a worker commits many short steps loses and duplicates nothing`, { timeout: CRASH_TIMEOUT_MS }, async () => {
    const ws = await workspace();
    const { db, drop } = await database(ws);
    try {
      await ws.write('steps/logged.mjs', LOGGED_STEPS);
      await ws.write('many.yaml', FLOW);
      const clean = await cleanFingerprint();
      const flowIds = await submitMany(ws, db);

      const delays: number[] = [];
      for (let round = 0; round < 5; round++) {
        const worker = await workerAtWork(ws, db, 1);
        if (worker === null) break; // everything already ran
        const delay = randomInt(0, 250);
        delays.push(delay);
        await sleep(delay);
        await worker.kill();
        await afterLeaseExpiry(); // its flows become claimable again
      }
      const { lost, attempts } = await finishAndCheck(ws, db, flowIds, clean);
      console.info(`${where}: ${delays.length} kills (after ${delays.join(', ')} ms), ${lost} lost attempts recovered, ${attempts} attempts in all`);
      expect(delays.length).toBeGreaterThanOrEqual(3);
      expect(lost).toBeGreaterThanOrEqual(1);
    } finally {
      await drop();
      await ws.remove();
    }
  });
}

describe('crashing workers on the embedded database', () => {
  randomKills('the embedded database', (ws) => Promise.resolve({ db: ws.db, drop: () => Promise.resolve() }));
});

describeWithPg('crashing workers on PostgreSQL', () => {
  let schemas: TestSchema[] = [];
  afterAll(async () => {
    for (const schema of schemas) await schema.drop();
    schemas = [];
  });

  randomKills('PostgreSQL', async () => {
    const schema = await createTestSchema('crash');
    schemas.push(schema);
    return { db: schema.url, drop: () => Promise.resolve() };
  });

  it('SIGKILL while an append waits on a lock the test holds: the append lands whole or not at all', { timeout: CRASH_TIMEOUT_MS }, async () => {
    const ws = await workspace();
    const schema = await createTestSchema('commit_kill');
    schemas.push(schema);
    // Tagged connections: the test finds the worker's backend waiting on its lock in pg_stat_activity.
    const tag = `cf-commit-kill-${randomBytes(4).toString('hex')}`;
    const db = urlForSchema(schema.name, { application_name: tag });
    const backends = async (condition: string): Promise<number> =>
      (await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND ${condition}`, [tag]))[0]?.n ?? 0;
    try {
      await ws.write('steps/logged.mjs', LOGGED_STEPS);
      await ws.write('many.yaml', FLOW);
      const clean = await cleanFingerprint();
      const flowIds = await submitMany(ws, db);

      for (let round = 0; round < 3; round++) {
        const worker = await workerAtWork(ws, db, 1 + randomInt(0, 6));
        expect(worker, 'the worker ran out of work before the kill').not.toBeNull();
        // Appends block on this lock (reads do not), so the worker is killed in the middle of one.
        const lock = new pg.Client({ connectionString: TEST_PG_URL });
        await lock.connect();
        try {
          await lock.query('BEGIN');
          await lock.query(`LOCK TABLE ${schema.name}.event_log IN EXCLUSIVE MODE`);
          await waitUntil(async () => worker?.hasExited() === true || (await backends(`wait_event_type = 'Lock'`)) > 0, 'an append to wait on the lock');
          expect(worker?.hasExited(), 'the worker exited instead of appending').toBe(false);
          await worker?.kill();
        } finally {
          await lock.query('COMMIT');
          await lock.end();
        }
        // The killed worker's backends finish what they had (commit or roll back) and go.
        await waitUntil(async () => (await backends('true')) === 0, 'the killed worker’s connections to close');
        await afterLeaseExpiry();
      }
      const { lost } = await finishAndCheck(ws, db, flowIds, clean);
      expect(lost).toBeGreaterThanOrEqual(1);
    } finally {
      await ws.remove();
    }
  });
});
