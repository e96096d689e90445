// The append statement is the cost of every step. It writes the queue row's values, computed by the
// engine's process (`batchProjection`), and its due time with `chemflow_queue_due`, which must be inlined:
// a SQL function PostgreSQL does not inline runs through the SQL-function executor at every append
// (0004's due time did, about half of the statement's execution time until migration 0009). EXPLAIN
// VERBOSE names a function call it kept; an inlined one shows only as its body.
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import { appendManyQuery } from '../../src/stores/sql/append-many-query.js';
import { appendEventsQuery, type AppendBatch } from '../../src/stores/sql/event-queries.js';
import { migrate } from '../../src/stores/sql/migrate.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';

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
      expect(text).toMatch(/Insert on \S*flow_queue/); // the plan is the append's, queue row included
      expect(text).not.toMatch(/chemflow_[a-z_]+\(/);
    }
  });

  // The merge keeps a failed row failed only when every event of the batch keeps it so, which only the
  // projection says (`keepsFailed`, no column): a sub-select, which must run only for a row found failed.
  it("reads the projection's keepsFailed only for a row found failed, for one flow and for many", async () => {
    const [running, failed] = ['6f1c1a52-3d7e-4c1e-9a53-0a8f2b7c9d10', '0b9e4c55-8d2a-4f7b-b0f4-7d3c2e1a9f88'];
    const ts = '2026-11-26T00:00:00.000Z';
    const started = { type: 'StepStarted', ts, payload: { stepIndex: 0, stepId: 'a', attempt: 1 } };
    const shardFinished = { type: 'StepFinished', ts, payload: { stepIndex: 0, stepId: 'a', attempt: 1, outputs: [], shard: { index: 1, count: 2 } } };
    for (const flowId of [running, failed]) {
      const init = { type: 'FlowInitialized', ts, payload: { flowName: 'plan' } };
      const { text, values } = appendEventsQuery(batchOf(flowId, 0, [init, started], { name: 'plan' }));
      await db.query(text, values);
    }
    const failure = { type: 'StepFailed', ts, payload: { stepIndex: 0, stepId: 'a', attempt: 1, shard: { index: 0, count: 2 } } };
    const fail = appendEventsQuery(batchOf(failed, 2, [failure], { status: 'failed', lastEventType: 'StepFailed' }));
    await db.query(fail.text, fail.values);
    const analyzed = async (query: { text: string; values: readonly unknown[] }): Promise<string> => {
      await db.query('BEGIN', []);
      try {
        const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${query.text}`, query.values);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      } finally {
        await db.query('ROLLBACK', []);
      }
    };
    /** The queue upsert's sub-selects of the projection: the scans its init plans and sub-plans run. */
    const subSelects = (plan: string): string[] =>
      plan
        .slice(plan.indexOf('Conflict Resolution'))
        .split('\n')
        .filter((line, i, lines) => /(InitPlan|SubPlan) \d+/.test(lines[i - 1] ?? '') && /CTE Scan on (projection|head own)/.test(line));
    const onRunning = batchOf(running, 2, [started], {});
    const onFailed = batchOf(failed, 3, [shardFinished], { lastEventType: 'StepFinished', keepsFailed: true });
    const one = subSelects(await analyzed(appendEventsQuery(onRunning)));
    expect(one.length).toBeGreaterThan(0);
    expect(one.every((line) => line.includes('never executed'))).toBe(true);
    const oneFailed = subSelects(await analyzed(appendEventsQuery(onFailed)));
    expect(oneFailed.some((line) => line.includes('loops=1'))).toBe(true);
    // Many flows: run once per failed row (here one of two), not per row.
    const many = subSelects(await analyzed(appendManyQuery([onRunning, onFailed], 1)));
    expect(many.length).toBeGreaterThan(0);
    expect(many.every((line) => /never executed|loops=1\)/.test(line))).toBe(true);
    const { text, values } = appendManyQuery([onRunning, onFailed], 1);
    await db.query(text, values);
    const rows = await db.query<{ flow_id: string; status: string }>('SELECT flow_id, status FROM flow_queue ORDER BY flow_id', []);
    expect(rows.map((r) => [r.flow_id, r.status])).toEqual([
      [failed, 'failed'],
      [running, 'running'],
    ]);
  });
});
