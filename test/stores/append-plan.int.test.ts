// The append statement is the cost of every step. It writes the queue row's values, computed by the
// engine's process (`batchProjection`), and its due time with `chemflow_queue_due`, which must be inlined:
// a SQL function PostgreSQL does not inline runs through the SQL-function executor at every append
// (0004's due time did, about half of the statement's execution time until migration 0009). EXPLAIN
// VERBOSE names a function call it kept; an inlined one shows only as its body.
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import { appendManyQuery } from '../../src/stores/sql/append-many-query.js';
import { appendEventsQuery, quietAppendQuery, type AppendBatch } from '../../src/stores/sql/event-queries.js';
import { migrate } from '../../src/stores/sql/migrate.js';
import { releaseLeaseQuery } from '../../src/stores/sql/queue-queries.js';
import { adminQuery, createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { waitUntil } from '../support/wait-until.js';

const batch = (flowId: string, expectedVersion: number): AppendBatch => ({
  flowId,
  expectedVersion,
  schemaVersion: 1,
  events: [
    { type: 'StepFinished', ts: '2026-11-26T00:00:00.000Z', payload: { stepIndex: 0, stepId: 'a', attempt: 1, outputs: [] } },
    { type: 'StepStarted', ts: '2026-11-26T00:00:00.000Z', payload: { stepIndex: 1, stepId: 'b', attempt: 1 } },
  ],
  queue: { status: 'running', lastEventType: 'StepStarted', notBefore: null, keepsFailed: false, name: null, firstTs: '2026-11-26T00:00:00.000Z', lastTs: '2026-11-26T00:00:00.000Z' },
  errors: [],
  artifacts: [],
});

/** A batch of `events` onto a flow at `expectedVersion`, its projection as given. */
const batchOf = (flowId: string, expectedVersion: number, events: AppendBatch['events'], queue: Partial<AppendBatch['queue'] & object>): AppendBatch => {
  const last = events[events.length - 1];
  return {
    flowId,
    expectedVersion,
    schemaVersion: 1,
    events,
    queue: { status: 'running', lastEventType: 'StepStarted', notBefore: null, keepsFailed: false, name: null, firstTs: last?.ts ?? '', lastTs: last?.ts ?? '', ...queue },
    errors: [],
    artifacts: [],
  };
};

describeWithPg('the append statement plan', () => {
  let schema: TestSchema;
  let db: PgExecutor;
  beforeEach(async () => {
    schema = await createTestSchema('append_plan');
    db = schema.executor();
    await migrate(db, 'up');
  });
  afterEach(async () => {
    await db.close();
    await schema.drop();
  });

  /** EXPLAIN VERBOSE prints a function that was not inlined by its name; an inlined one as its body. */
  const plan = async (query: { text: string; values: readonly unknown[] }): Promise<string> => {
    const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (VERBOSE, COSTS OFF) ${query.text}`, query.values);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  };

  it('keeps no chemflow SQL function call (the due time is inlined), for one flow and for many', async () => {
    const one = await plan(appendEventsQuery(batch('6f1c1a52-3d7e-4c1e-9a53-0a8f2b7c9d10', 2)));
    const many = await plan(
      appendManyQuery([batch('6f1c1a52-3d7e-4c1e-9a53-0a8f2b7c9d10', 2), batch('0b9e4c55-8d2a-4f7b-b0f4-7d3c2e1a9f88', 4)], 1),
    );
    const withArtifacts: AppendBatch = {
      ...batch('6f1c1a52-3d7e-4c1e-9a53-0a8f2b7c9d10', 2),
      artifacts: [
        { kind: 'test/whole', hash: 'a'.repeat(64), payload: { n: 1 } },
        { kind: 'test/rows', hash: 'b'.repeat(64), form: 'batch', manifest: { rowsField: null, header: {}, rowCount: 0, chunks: [] } },
      ],
    };
    const artifacts = await plan(appendEventsQuery(withArtifacts));
    expect(artifacts).toMatch(/Insert on \S*workflow_step_artifacts/);
    for (const text of [one, many, artifacts]) {
      expect(text).toMatch(/Update on \S*flow_queue/); // the plan is the append's, queue row included
      expect(text).not.toMatch(/chemflow_[a-z_]+\(/);
    }
  });

  // An append writes the queue row only when it changes what a claimer reads, or when its appender does
  // not hold the flow's lease (whose write keeps a claim or a release from overtaking it).
  it("writes the queue row only when the merge changes it or the appender does not hold the lease, for one flow and for many", async () => {
    const [running, failed] = ['6f1c1a52-3d7e-4c1e-9a53-0a8f2b7c9d10', '0b9e4c55-8d2a-4f7b-b0f4-7d3c2e1a9f88'];
    const ts = '2026-11-26T00:00:00.000Z';
    const started = (i: number) => ({ type: 'StepStarted', ts, payload: { stepIndex: i, stepId: `s${i}`, attempt: 1 } });
    const finished = (i: number) => ({ type: 'StepFinished', ts, payload: { stepIndex: i, stepId: `s${i}`, attempt: 1, outputs: [] } });
    const shardFinished = { type: 'StepFinished', ts, payload: { stepIndex: 0, stepId: 's0', attempt: 1, outputs: [], shard: { index: 1, count: 2 } } };
    const run = async (query: { text: string; values: readonly unknown[] }) => db.query(query.text, query.values);
    for (const flowId of [running, failed]) {
      const init = { type: 'FlowInitialized', ts, payload: { flowName: 'plan' } };
      await run(appendEventsQuery({ ...batchOf(flowId, 0, [init, started(0)], { name: 'plan' }), lease: { owner: 'w', leaseMs: 60_000 } }));
    }
    /** The row's tuple (ctid, xmin: a new one at every write) and the columns a claimer reads. */
    const row = async (flowId: string) =>
      (await db.query<{ tuple: string; status: string; lease_owner: string | null }>(
        `SELECT ctid::text || xmin::text AS tuple, status, lease_owner FROM flow_queue WHERE flow_id = $1`,
        [flowId],
      ))[0];
    const before = await row(running);
    await run(appendEventsQuery({ ...batchOf(running, 2, [finished(0), started(1)], {}), holder: 'w' }));
    expect(await row(running)).toEqual(before); // running, still due, still leased: nothing written
    await run(appendEventsQuery(batchOf(running, 4, [finished(1), started(2)], {})));
    const touched = await row(running);
    expect(touched).toMatchObject({ status: 'running', lease_owner: 'w' }); // the same values...
    expect(touched?.tuple).not.toBe(before?.tuple); // ...written by an appender that does not hold the lease
    await run(appendEventsQuery({ ...batchOf(running, 6, [finished(2), started(3)], {}), holder: 'someone else' }));
    expect((await row(running))?.tuple).not.toBe(touched?.tuple);

    // A failed row stays failed when every event keeps it so, and is not written then; many flows at once.
    const failure = { type: 'StepFailed', ts, payload: { stepIndex: 0, stepId: 's0', attempt: 1, shard: { index: 0, count: 2 } } };
    await run(appendEventsQuery({ ...batchOf(failed, 2, [failure], { status: 'failed', lastEventType: 'StepFailed' }), holder: 'w' }));
    const failedRow = await row(failed);
    expect(failedRow).toMatchObject({ status: 'failed', lease_owner: null }); // the failure ended the flow: lease cleared
    const onRunning = { ...batchOf(running, 8, [finished(3)], { status: 'pending', lastEventType: 'StepFinished' }), holder: 'w' };
    const onFailed = batchOf(failed, 3, [shardFinished], { lastEventType: 'StepFinished', keepsFailed: true });
    await run(appendManyQuery([onRunning, onFailed], 1));
    expect(await row(failed)).toEqual(failedRow); // nothing written: neither open nor leased, no claim or release can race the append
    expect(await row(running)).toMatchObject({ status: 'pending', lease_owner: 'w' });
    const heads = await db.query<{ flow_id: string; version: number; event_type: string }>(
      'SELECT q.flow_id::text, h.version, h.event_type FROM flow_queue q, chemflow_flow_head(q.flow_id) AS h ORDER BY q.flow_id',
      [],
    );
    expect(heads).toEqual([
      { flow_id: failed, version: 4, event_type: 'StepFinished' },
      { flow_id: running, version: 9, event_type: 'StepFinished' },
    ]);
  });

  // A coordinator gives its flow back not due before a retry's time while the log stays at the version
  // it saw. A work item's outcome appended meanwhile by another process must not be left behind it: the
  // append (no holder) writes the row, so the release waits for it and then reads its events.
  it('a release that defers the flow waits for an append by another process and then leaves the flow due', async () => {
    const flowId = '3c2b1a09-8f7e-4d6c-9b5a-4e3f2d1c0b9a';
    const ts = '2026-11-26T00:00:00.000Z';
    const init = { type: 'FlowInitialized', ts, payload: { flowName: 'plan' } };
    const started = { type: 'StepStarted', ts, payload: { stepIndex: 0, stepId: 's0', attempt: 1 } };
    const create = appendEventsQuery({ ...batchOf(flowId, 0, [init, started], { name: 'plan' }), lease: { owner: 'coordinator', leaseMs: 60_000 } });
    await db.query(create.text, create.values);
    const appender = new pg.Client({ connectionString: schema.url });
    await appender.connect();
    try {
      await appender.query('BEGIN');
      const appenderPid = (await appender.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      const outcome = { type: 'StepSignal', ts, payload: { stepIndex: 0, stepId: 's0', attempt: 1, signal: {} } };
      const append = appendEventsQuery(batchOf(flowId, 2, [outcome], {}));
      await appender.query(append.text, [...append.values]);
      // The coordinator saw version 2: its release waits for the appender's lock on the row.
      const release = releaseLeaseQuery(flowId, 'coordinator', { at: Date.now() + 3_600_000, version: 2 });
      const released = db.query(release.text, release.values);
      await waitUntil(
        async () => (await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid))', [appenderPid]))[0]?.n === 1,
        "the release to wait for the appender's lock",
      );
      await appender.query('COMMIT');
      await released;
    } finally {
      await appender.end();
    }
    const [row] = await db.query<{ due_now: boolean; lease_owner: string | null }>(
      'SELECT next_due_at <= now() AS due_now, lease_owner FROM flow_queue WHERE flow_id = $1',
      [flowId],
    );
    expect(row).toEqual({ due_now: true, lease_owner: null });
  });

  // A lease holder's plain step is most appends: its statement checks the row instead of planning an
  // update of it. When the check fails, or the log moved on, it inserts nothing, and the store runs
  // the full statement.
  it("a lease holder's step inserts its events and leaves the queue row alone; when the check fails it inserts nothing", async () => {
    const flowId = '5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a';
    const ts = '2026-11-26T00:00:00.000Z';
    const started = (i: number) => ({ type: 'StepStarted', ts, payload: { stepIndex: i, stepId: `s${i}`, attempt: 1 } });
    const finished = (i: number) => ({ type: 'StepFinished', ts, payload: { stepIndex: i, stepId: `s${i}`, attempt: 1, outputs: [] } });
    const init = { type: 'FlowInitialized', ts, payload: { flowName: 'plan' } };
    const create = appendEventsQuery({ ...batchOf(flowId, 0, [init, started(0)], { name: 'plan' }), lease: { owner: 'w', leaseMs: 60_000 } });
    await db.query(create.text, create.values);
    const row = async () =>
      (await db.query<{ tuple: string }>(`SELECT ctid::text || xmin::text AS tuple FROM flow_queue WHERE flow_id = $1`, [flowId]))[0]?.tuple;
    const versions = async () =>
      (await db.query<{ version: number }>('SELECT version FROM event_log WHERE flow_id = $1 ORDER BY version', [flowId])).map((r) => r.version);
    const before = await row();

    const held = quietAppendQuery({ ...batchOf(flowId, 2, [finished(0), started(1)], {}), holder: 'w' });
    if (held === undefined) throw new Error('a holder keeping its flow running gets the quiet statement');
    const plain = await plan(held);
    expect(plain).not.toMatch(/Update on/);
    expect(plain).not.toMatch(/chemflow_[a-z_]+\(/);
    const inserted = await db.query<{ head_version: number; version: number | null }>(held.text, held.values);
    expect(inserted.map((r) => [r.head_version, r.version])).toEqual([
      [2, 3],
      [2, 4],
    ]);
    expect(await row()).toBe(before);

    const notHeld = quietAppendQuery({ ...batchOf(flowId, 4, [finished(1), started(2)], {}), holder: 'someone else' });
    if (notHeld === undefined) throw new Error('any holder gets the quiet statement');
    expect(await db.query(notHeld.text, notHeld.values)).toEqual([]);
    const stale = quietAppendQuery({ ...batchOf(flowId, 2, [finished(0), started(1)], {}), holder: 'w' });
    if (stale === undefined) throw new Error('a holder keeping its flow running gets the quiet statement');
    expect(await db.query(stale.text, stale.values)).toEqual([]); // the log is at 4, not 2
    const errorRow = { flowId, stepId: 's1', attemptNumber: 1, errorClass: 'Transient' as const, errorMessage: 'm', details: {}, timestamp: ts, retryCount: 0, maxRetries: 3, version: 3 };
    const failure = { type: 'StepFailed', ts, payload: { stepIndex: 1, stepId: 's1', attempt: 1 } };
    const staleWithError = quietAppendQuery({ ...batchOf(flowId, 2, [failure], {}), holder: 'w', errors: [errorRow] });
    if (staleWithError === undefined) throw new Error('a holder keeping its flow running gets the quiet statement');
    expect(await db.query(staleWithError.text, staleWithError.values)).toEqual([]);
    expect(await versions()).toEqual([1, 2, 3, 4]);
    expect(await db.query('SELECT id FROM step_execution_errors', [])).toEqual([]);
    expect(await row()).toBe(before);

    // Appends that create, start, end, defer or cancel the flow, or whose appender holds no lease, have none.
    const middle = batchOf(flowId, 4, [finished(1), started(2)], {});
    expect(quietAppendQuery(middle)).toBeUndefined();
    expect(quietAppendQuery({ ...batchOf(flowId, 0, [init, started(0)], { name: 'plan' }), holder: 'w' })).toBeUndefined();
    expect(quietAppendQuery({ ...batchOf(flowId, 4, [started(2)], {}), holder: 'w' })).toBeUndefined(); // a pending flow's start
    expect(quietAppendQuery({ ...batchOf(flowId, 4, [finished(1)], { status: 'pending', lastEventType: 'StepFinished' }), holder: 'w' })).toBeUndefined();
    expect(quietAppendQuery({ ...batchOf(flowId, 4, [finished(9)], { status: 'completed', lastEventType: 'FlowCompleted' }), holder: 'w' })).toBeUndefined();
    const cancel = { type: 'FlowCancelled', ts, payload: {} };
    expect(quietAppendQuery({ ...batchOf(flowId, 4, [cancel], { status: 'running' }), holder: 'w' })).toBeUndefined();
  });
});
