// A worker claims before every flow it runs: the claim must be planned once per connection, not at
// every call. PostgreSQL keeps a prepared statement's generic plan only when it costs no more than the
// custom ones; a LIMIT parameter is planned as a tenth of the rows, which made the generic plan of a
// claim hash-join whole tables once they were analysed, so every claim was planned anew.
import { expect, it } from 'vitest';
import { FlowEngine } from '../../src/runtime/engine.js';
import { claimFlowsQuery } from '../../src/stores/sql/queue-queries.js';
import { claimWorkQuery } from '../../src/stores/sql/work-queries.js';
import { describeWithPg, eachTestSchema } from '../helpers/pg.js';
import { demoFlow } from '../support/demo-flow.js';

describeWithPg("a worker's claim plan", () => {
  const db = eachTestSchema('claim_plan');

  /** Runs the statement `times` times as one prepared statement; returns how PostgreSQL planned it. */
  const plans = async (name: string, query: { text: string; values: readonly unknown[] }, times: number) => {
    for (let i = 0; i < times; i++) await db.client.query({ name, text: query.text, values: [...query.values] });
    const [row] = (await db.client.query<{ generic_plans: string; custom_plans: string }>('SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1', [name])).rows;
    return { generic: Number(row?.generic_plans), custom: Number(row?.custom_plans) };
  };

  it('claims of one use one generic plan on analysed tables, and claim in due order', async () => {
    const engine = new FlowEngine({ store: db.store });
    // Enough open flows and events that a plan reading them whole costs more than one using the indexes.
    const flows: string[] = [];
    for (let i = 0; i < 60; i++) flows.push(...(await Promise.all(Array.from({ length: 10 }, () => engine.startFlow(demoFlow())))));
    await db.client.query('ANALYZE flow_queue; ANALYZE event_log; ANALYZE flow_shards');
    const claim = claimWorkQuery('plan-test', { limit: 1, leaseMs: 60_000, events: true });
    // PostgreSQL tries five custom plans before it weighs the generic one.
    expect(await plans('work', claim, 12)).toMatchObject({ custom: 5, generic: 7 });
    const claimed = (await db.client.query<{ flow_id: string }>('SELECT flow_id::text FROM flow_queue WHERE lease_owner = $1 ORDER BY next_due_at', ['plan-test'])).rows;
    expect(claimed).toHaveLength(12);
    const due = (await db.client.query<{ flow_id: string }>('SELECT flow_id::text FROM flow_queue ORDER BY next_due_at, flow_id LIMIT 12')).rows;
    expect(new Set(claimed.map((r) => r.flow_id))).toEqual(new Set(due.map((r) => r.flow_id)));
    // The store's own claim of flows, one at a time, the same way.
    expect(await plans('flows', claimFlowsQuery('plan-flows', 1, 60_000, [], true), 12)).toMatchObject({ custom: 5, generic: 7 });
  });

  it('claims read the open flows in due order before the queue was ever analysed', async () => {
    // A new database: no statistics yet (autovacuum kept away, so that nothing analyses it meanwhile).
    await db.client.query('ALTER TABLE flow_queue SET (autovacuum_enabled = false)');
    const engine = new FlowEngine({ store: db.store });
    for (let i = 0; i < 30; i++) await Promise.all(Array.from({ length: 10 }, () => engine.startFlow(demoFlow())));
    const [stats] = (await db.client.query<{ reltuples: number }>("SELECT reltuples FROM pg_class WHERE oid = 'flow_queue'::regclass")).rows;
    expect(stats?.reltuples).toBe(-1);
    const plan = async (query: { text: string; values: readonly unknown[] }): Promise<string> =>
      (await db.client.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${query.text}`, values: [...query.values] })).rows.map((r) => r['QUERY PLAN']).join('\n');
    for (const query of [claimWorkQuery('plan-test', { limit: 1, leaseMs: 60_000, events: true }), claimFlowsQuery('plan-flows', 1, 60_000, [], true)]) {
      const text = await plan(query);
      // An ordered scan that stops at the first free flow, not a sort of every open one.
      expect(text).toContain('Index Scan using flow_queue_runnable on flow_queue');
      expect(text).not.toMatch(/Sort Key: (flow_queue\.)?next_due_at/);
    }
  });
});
