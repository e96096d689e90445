// `chemflow errors --code X` over a long audit history: the page of a rare code is read from an index
// of codes, not found by walking every error row from the newest one.
import { expect, it } from 'vitest';
import { searchErrorsQuery } from '../../src/stores/sql/error-queries.js';
import { describeWithPg, eachTestSchema } from '../helpers/pg.js';

describeWithPg('searching the errors by code', () => {
  const db = eachTestSchema('error_code_plan');

  it('reads the newest rows of a rare code from the code index, in the order of the unfiltered search', async () => {
    // 20,000 failed attempts, one in a thousand with the rare code, spread through the history.
    await db.client.query(`INSERT INTO step_execution_errors (flow_id, step_id, attempt_number, error_class, error_message, details)
      SELECT gen_random_uuid(), 'step-' || (n % 7), 1, 'Transient', 'failed',
        jsonb_build_object('error_code', CASE WHEN n % 1000 = 0 THEN 'RARE_CODE' ELSE 'WORKER_LOST' END)
      FROM generate_series(1, 20000) AS n`);
    await db.client.query('ANALYZE step_execution_errors');
    const query = searchErrorsQuery({ code: 'RARE_CODE', limit: 5 });
    const plan = (await db.client.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${query.text}`, values: query.values })).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('step_execution_errors_code');
    const found = await db.store.searchErrors({ code: 'RARE_CODE', limit: 5 });
    const ids = found.map((e) => e.id);
    expect(ids).toHaveLength(5);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const expected = (await db.client.query<{ id: number }>(`SELECT id FROM step_execution_errors WHERE details->>'error_code' = 'RARE_CODE' ORDER BY id DESC LIMIT 5`)).rows.map((r) => r.id);
    expect(ids).toEqual(expected);
  });
});
