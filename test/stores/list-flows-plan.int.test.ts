import { afterAll, beforeAll, expect, it } from 'vitest';
import { listFlowsQuery } from '../../src/stores/sql/queue-queries.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';

/** `listFlows` reads one page of an index whatever the number of flows: the plan, on 20,000 queue rows. */
describeWithPg('the flows listing on PostgreSQL', () => {
  let schema: TestSchema;
  let store: SqlFlowStore;
  beforeAll(async () => {
    schema = await createTestSchema('list_plan');
    store = await schema.openStore();
    await store.executor.exec(`INSERT INTO flow_queue (flow_id, name, status, next_due_at, created_at)
      SELECT md5('plan-' || g)::uuid, 'plan', CASE WHEN g % 3 = 0 THEN 'failed' ELSE 'completed' END, NULL,
        timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second'
      FROM generate_series(1, 20000) AS g;
      ANALYZE flow_queue`);
  });
  afterAll(async () => {
    await store?.close();
    await schema?.drop();
  });

  it.each([{}, { status: ['failed' as const] }, { name: 'plan' }, { after: '00000000-0000-4000-8000-000000000000' }])('reads an index in order for %j, sorting nothing', async (query) => {
    const q = listFlowsQuery({ limit: 50, ...query });
    const plan = (await store.executor.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.values)).map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Scan using flow_queue_(recent|status_recent|name_recent)/);
    expect(plan).not.toMatch(/Sort|Seq Scan on flow_queue/);
  });
});
