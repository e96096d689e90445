// The append statement is the cost of every step: the queue's SQL functions must be inlined into it,
// not called through the SQL-function executor at every append (migration 0009 made the due time
// inlinable; a body that names a parameter twice silently stops that).
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
  const plan = async (query: { text: string; values: unknown[] }): Promise<string> => {
    const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (VERBOSE, COSTS OFF) ${query.text}`, query.values);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  };

  it('inlines the queue status and due time, for one flow and for many', async () => {
    const one = await plan(appendEventsQuery(batch('6f1c1a52-3d7e-4c1e-9a53-0a8f2b7c9d10', 2)));
    const many = await plan(
      appendManyQuery([batch('6f1c1a52-3d7e-4c1e-9a53-0a8f2b7c9d10', 2), batch('0b9e4c55-8d2a-4f7b-b0f4-7d3c2e1a9f88', 4)], 1),
    );
    for (const text of [one, many]) {
      expect(text).toContain('Insert on'); // the plan is the append's
      expect(text).toContain("'waiting'::text"); // the due time's body, inlined
      expect(text).not.toMatch(/chemflow_queue_(due|status)\(/);
    }
  });
});
