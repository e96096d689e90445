// A database written by the previous version (before the flow queue), migrated,
// keeps its history and its open flows run to the end.
//
// How "written by the previous version" is obtained: test/fixtures/pre-queue/make.sh builds chemflow at
// commit 9462282 (the parent of the queue) with `git archive`, and its own CLI writes a finished, a
// failed, a waiting (retry not yet due), an interrupted (worker SIGKILLed mid-step) and a pending flow
// to PostgreSQL; the script commits a data-only dump of that schema (dump.sql) and what the old CLI
// printed for it (before.json). This test does not build the old version itself: a second TypeScript
// build plus a dozen old CLI runs cost minutes on a loaded 2-core machine. It creates the old schema by
// running migrations 0001-0003 only (unchanged since 9462282), loads the dump, and then uses the
// current CLI only. The placeholders @@SCHEMA@@ and @@PROJECT@@ stand for the schema and for the project
// directory, which each FlowInitialized records as its flow file's path (metadata, never hashed).
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import { migrate } from '../../src/stores/sql/migrate.js';
import { pgAvailable, TEST_PG_URL } from '../helpers/pg.js';
import { chemflow, ensureBuilt, ROOT } from './support/cli.js';
import { createPgDb, errorRows, eventRows, workerLines, type PgDb } from './support/processes.js';

beforeAll(ensureBuilt, 180_000);

const FIXTURE = join(ROOT, 'test', 'fixtures', 'pre-queue');

interface Before {
  commit: string;
  flows: { flowId: string; name: string; status: string; version: number; lastEventType: string; createdAt: string; updatedAt: string }[];
  events: Record<string, { type: string; version: number; flowFingerprint?: string }[]>;
  status: Record<string, { status: string; flowFingerprint: string | null }>;
}

describe.skipIf(!pgAvailable)('upgrading a database written before the flow queue', () => {
  let db: PgDb;
  let project: string;
  let before: Before;
  /** The flow of each kind, by the name and old status it had. */
  const ids = { finished: '', failed: '', waiting: '', interrupted: '', pending: '' };
  const cli = (...args: string[]) => chemflow(['--db', db.url, ...args], { cwd: project, timeoutMs: 120_000 });
  const json = async <T>(...args: string[]): Promise<T> => {
    const result = await cli(...args, '--json');
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  };

  beforeAll(async () => {
    db = await createPgDb('upgrade');
    const dir = await mkdtemp(join(tmpdir(), 'chemflow-upgrade-'));
    project = join(dir, 'project');
    await cp(join(FIXTURE, 'project'), project, { recursive: true });
    const placeholders = (text: string) => text.replaceAll('@@SCHEMA@@', db.schema).replaceAll('@@PROJECT@@', project);
    before = JSON.parse(placeholders(await readFile(join(FIXTURE, 'before.json'), 'utf8'))) as Before;

    // The schema as the old version left it: migrations 0001-0003, then its data.
    const executor = new PgExecutor({ connectionString: TEST_PG_URL, schema: db.schema });
    try {
      expect((await migrate(executor, 'up', { to: '0003_step_execution_errors' })).ran).toHaveLength(3);
    } finally {
      await executor.close();
    }
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    try {
      await client.query(placeholders(await readFile(join(FIXTURE, 'dump.sql'), 'utf8')));
    } finally {
      await client.end();
    }

    const byName = (name: string, status: string) => before.flows.find((f) => f.name === name && f.status === status)?.flowId ?? '';
    ids.finished = byName('short', 'completed');
    ids.failed = byName('gated', 'failed');
    ids.waiting = byName('waiting', 'running');
    ids.interrupted = byName('held', 'running');
    ids.pending = byName('short', 'pending');
    expect(Object.values(ids).every((id) => id !== '')).toBe(true);
  }, 180_000);
  afterAll(async () => {
    await db.drop();
    await rm(join(project, '..'), { recursive: true, force: true });
  });

  it('`chemflow migrate` adds the queue and keeps the history: events, statuses and listing as before', { timeout: 300_000 }, async () => {
    const rowsBefore = await eventRows(db.schema);
    const errorsBefore = await errorRows(db.schema);
    const migrated = await cli('migrate');
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/migration\(s\) applied: 0004_flow_queue\b/); // and any later ones

    expect(await eventRows(db.schema)).toEqual(rowsBefore);
    expect(await errorRows(db.schema)).toEqual(errorsBefore);
    for (const id of Object.values(ids)) {
      expect(await json('events', id)).toEqual(before.events[id]);
      // Every field the old version printed, with the same value; later versions only add fields
      // (the step cache's `cached` / `cachedFrom`, `shards` of mapped steps, which an old flow never has,
      // and `needs`: an old log is a list, each step needing the one before it).
      const status = await json<{ steps: { stepId: string; needs: string[]; cached: boolean; cachedFrom: unknown; shards: unknown }[] }>('status', id);
      expect(status.steps.every((s) => s.cached === false && s.cachedFrom === null && s.shards === null)).toBe(true);
      expect(status.steps.map((s) => s.needs)).toEqual(status.steps.map((_, i) => (i === 0 ? [] : [status.steps[i - 1]?.stepId])));
      const added = new Set(['cached', 'cachedFrom', 'shards', 'needs']);
      expect(JSON.parse(JSON.stringify(status, (key, value: unknown) => (added.has(key) ? undefined : value)))).toEqual(before.status[id]);
    }

    // The listing now reads the queue, backfilled from the log: the same entries, with the queue's statuses.
    const queueStatus: Record<string, string> = {
      [ids.finished]: 'completed',
      [ids.failed]: 'failed',
      [ids.waiting]: 'waiting',
      [ids.interrupted]: 'running',
      [ids.pending]: 'pending',
    };
    // (Newest created first now; the old listing was in another order.)
    const flows = await json<Before['flows']>('flows');
    const byId = (a: { flowId: string }, b: { flowId: string }) => a.flowId.localeCompare(b.flowId);
    expect([...flows].sort(byId)).toEqual(before.flows.map((f) => ({ ...f, status: queueStatus[f.flowId] })).sort(byId));
    expect(flows.map((f) => f.createdAt)).toEqual(flows.map((f) => f.createdAt).sort().reverse());
  });

  it('its open flows run to the end with `chemflow worker --once`', { timeout: 300_000 }, async () => {
    await writeFile(join(project, 'release.marker'), '');
    const result = await cli('worker', '--once', '--json');
    expect(result.code, result.stderr).toBe(0);
    const lines = workerLines(result.stdout);
    expect(lines.map((l) => [l.flowId, l.outcome]).sort()).toEqual(
      [ids.waiting, ids.interrupted, ids.pending].map((id) => [id, 'completed']).sort(),
    );

    const flows = await json<{ flowId: string; status: string }[]>('flows');
    expect(Object.fromEntries(flows.map((f) => [f.flowId, f.status]))).toEqual({
      [ids.finished]: 'completed',
      [ids.failed]: 'failed',
      [ids.waiting]: 'completed',
      [ids.interrupted]: 'completed',
      [ids.pending]: 'completed',
    });

    // History is only appended to, without gaps.
    for (const id of Object.values(ids)) {
      const events = await json<{ version: number }[]>('events', id);
      expect(events.slice(0, before.events[id]?.length)).toEqual(before.events[id]);
      expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    }
    // The interrupted attempt is recorded as lost and retried; the waiting retry ran once.
    const errors = await errorRows(db.schema);
    expect(errors.map((e) => [e.flow_id, e.step_id, e.attempt_number, e.error_class, e.error_code])).toEqual([
      [ids.failed, 'gate', 1, 'Permanent', 'CLOSED'],
      [ids.interrupted, 'hold', 1, 'Transient', 'WORKER_LOST'],
      [ids.waiting, 'busy', 1, 'Transient', 'BUSY'],
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
    const executions = (await readFile(join(project, 'executions.log'), 'utf8')).trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' '));
    expect(executions.sort()).toEqual(
      [
        `${ids.waiting} busy 2`,
        `${ids.waiting} bump 1`,
        `${ids.interrupted} hold 2`,
        `${ids.interrupted} bump 1`,
        `${ids.pending} seed 1`,
        `${ids.pending} bump 1`,
      ].sort(),
    );
    // A flow submitted by the old version and finished by the new one has the old run's fingerprint.
    const fingerprint = (id: string) => lines.find((l) => l.flowId === id)?.flowFingerprint;
    expect(fingerprint(ids.pending)).toBe(before.status[ids.finished]?.flowFingerprint);
  });
});
