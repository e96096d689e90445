// `chemflow errors --code X` over a long audit history: the page of a rare code is read from an index
// of codes, not found by walking every error row from the newest one.
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { searchErrorsQuery } from '../../src/stores/sql/error-queries.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';

describeWithPg('searching the errors by code', () => {
  let schema: TestSchema;
  let store: SqlFlowStore;
  let client: pg.Client;
  beforeEach(async () => {
    schema = await createTestSchema('error_code_plan');
    store = await schema.openStore();
    client = new pg.Client({ connectionString: schema.url });
    await client.connect();
  });
  afterEach(async () => {
    await client.end();
    await store.close();
    await schema.drop();
  });

  it('reads the newest rows of a rare code from the code index, in the order of the unfiltered search', async () => {
    // 20,000 failed attempts, one in a thousand with the rare code, spread through the history.
    await client.query(`INSERT INTO step_execution_errors (flow_id, step_id, attempt_number, error_class, error_message, details)
      SELECT gen_random_uuid(), 'step-' || (n % 7), 1, 'Transient', 'failed',
        jsonb_build_object('error_code', CASE WHEN n % 1000 = 0 THEN 'RARE_CODE' ELSE 'WORKER_LOST' END)
      FROM generate_series(1, 20000) AS n`);
    await client.query('ANALYZE step_execution_errors');
    const query = searchErrorsQuery({ code: 'RARE_CODE', limit: 5 });
    const plan = (await client.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${query.text}`, values: query.values })).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('step_execution_errors_code');
    const found = await store.searchErrors({ code: 'RARE_CODE', limit: 5 });
    const ids = found.map((e) => e.id);
    expect(ids).toHaveLength(5);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const expected = (await client.query<{ id: number }>(`SELECT id FROM step_execution_errors WHERE details->>'error_code' = 'RARE_CODE' ORDER BY id DESC LIMIT 5`)).rows.map((r) => r.id);
    expect(ids).toEqual(expected);
  });
});
