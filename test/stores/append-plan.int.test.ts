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
});
