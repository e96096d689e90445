// The append statement is the cost of every step. It writes the queue row's values, computed by the
// engine's process (`batchProjection`), and calls no SQL function of chemflow's: one that PostgreSQL does
// not inline runs through the SQL-function executor at every append (0004's due time did, about half of
// the statement's execution time until migration 0009 and this change).
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { PgExecutor } from '../../src/stores/pg/pg-executor.js';
import { appendManyQuery } from '../../src/stores/sql/append-many-query.js';
import { appendEventsQuery, type AppendBatch } from '../../src/stores/sql/event-queries.js';
import { migrate } from '../../src/stores/sql/migrate.js';
import { flowInitialized, stepFinished, stepStarted } from '../helpers/events.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';

const batch = (flowId: string, expectedVersion: number): AppendBatch => ({
  flowId,
  expectedVersion,
  schemaVersion: 1,
  events: [
    { type: 'StepFinished', ts: '2026-11-26T00:00:00.000Z', payload: { stepIndex: 0, stepId: 'a', attempt: 1, outputs: [] } },
    { type: 'StepStarted', ts: '2026-11-26T00:00:00.000Z', payload: { stepIndex: 1, stepId: 'b', attempt: 1 } },
  ],
  queue: { status: 'running', lastEventType: 'StepStarted', notBefore: null, name: null, firstTs: '2026-11-26T00:00:00.000Z', lastTs: '2026-11-26T00:00:00.000Z' },
  errors: [],
  artifacts: [],
});

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

  it('calls no chemflow SQL function, for one flow and for many', async () => {
    const one = await plan(appendEventsQuery(batch('6f1c1a52-3d7e-4c1e-9a53-0a8f2b7c9d10', 2)));
    const many = await plan(
      appendManyQuery([batch('6f1c1a52-3d7e-4c1e-9a53-0a8f2b7c9d10', 2), batch('0b9e4c55-8d2a-4f7b-b0f4-7d3c2e1a9f88', 4)], 1),
    );
    for (const text of [one, many]) {
      expect(text).toMatch(/(Insert|Update) on \S*flow_queue/); // the plan is the append's, queue row included
      expect(text).not.toMatch(/chemflow_[a-z_]+\(/);
    }
  });

  it('an append to an existing flow updates its row in place; a store heals a row deleted by hand from the log', async () => {
    const flowId = '3d5e7f90-1a2b-4c3d-8e9f-0a1b2c3d4e5f';
    const run = async (q: { text: string; values: readonly unknown[] }) => db.query(q.text, q.values);
    const created: AppendBatch = {
      ...batch(flowId, 0),
      events: [
        { type: 'FlowInitialized', ts: '2026-11-26T00:00:00.000Z', payload: { flowName: 'healed', definitionHash: 'x', stepCount: 2, stepIds: ['a', 'b'], metadata: {} } },
        { type: 'StepStarted', ts: '2026-11-26T00:00:00.000Z', payload: { stepIndex: 0, stepId: 'a', attempt: 1 } },
      ],
      queue: { status: 'running', lastEventType: 'StepStarted', notBefore: null, name: 'healed', firstTs: '2026-11-26T00:00:00.000Z', lastTs: '2026-11-26T00:00:00.000Z' },
      lease: { owner: 'w1', leaseMs: 60_000 },
    };
    await run(appendEventsQuery(created));
    const row = async () =>
      (await db.query<{ name: string; status: string; version: number; lease_owner: string | null }>(
        'SELECT name, status, version, lease_owner FROM flow_queue WHERE flow_id = $1',
        [flowId],
      ))[0];
    expect(await row()).toEqual({ name: 'healed', status: 'running', version: 2, lease_owner: 'w1' });
    await run(appendEventsQuery(batch(flowId, 2)));
    expect(await row()).toEqual({ name: 'healed', status: 'running', version: 4, lease_owner: 'w1' });
    await db.query('DELETE FROM flow_queue WHERE flow_id = $1', [flowId]);
    const store = await schema.openStore();
    try {
      await store.append(flowId, 4, [stepFinished(1, []), stepStarted(2)]);
      expect(await row()).toEqual({ name: 'healed', status: 'running', version: 6, lease_owner: null });
      await db.query('DELETE FROM flow_queue WHERE flow_id = $1', [flowId]);
      // A batch of many flows' appends upserts the row (its statement locks rows in flow id order), so it
      // heals it too, from the batch alone: with no name until `chemflow queue rebuild`.
      const outcomes = await store.appendBatch([
        { flowId, expectedVersion: 6, events: [stepFinished(2, []), stepStarted(3)] },
        { flowId, expectedVersion: 8, events: [stepFinished(3, []), stepStarted(4)] },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    } finally {
      await store.close();
    }
    expect(await row()).toEqual({ name: '', status: 'running', version: 10, lease_owner: null });
    await db.query('SELECT chemflow_rebuild_flow_queue($1)', [flowId]);
    expect(await row()).toEqual({ name: 'healed', status: 'running', version: 10, lease_owner: null });
    // A batch with a step cache entry goes a statement per request: the store rebuilds the row, as for a lone append.
    await db.query('DELETE FROM flow_queue WHERE flow_id = $1', [flowId]);
    const again = await schema.openStore();
    try {
      const other = 'c0ffee00-1a2b-4c3d-8e9f-0a1b2c3d4e5f';
      await again.append(other, 0, [flowInitialized(), stepStarted(0)]);
      const outcomes = await again.appendBatch([
        { flowId, expectedVersion: 10, events: [stepFinished(4, [])], options: { cacheEntry: { key: 'a'.repeat(64), stepIndex: 4, stepType: 't' } } },
        { flowId: other, expectedVersion: 2, events: [stepFinished(0, []), stepStarted(1)] },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    } finally {
      await again.close();
    }
    expect(await row()).toEqual({ name: 'healed', status: 'pending', version: 11, lease_owner: null });
  });
});
