import { afterAll, beforeAll, expect, it } from 'vitest';
import { CorruptEventError, FlowEngine } from '../../src/index.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { demoFlow, ManualClock } from '../support/demo-flow.js';
import { adminQuery, createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';

describeWithPg('PgFlowRepository.loadWithErrorRows', () => {
  let schema: TestSchema;
  let store: SqlFlowStore;

  beforeAll(async () => {
    schema = await createTestSchema('merge');
    store = await schema.openStore();
  });
  afterAll(async () => {
    await store.close();
    await schema.drop();
  });

  it('merges the error rows into the rehydrated state when they agree with the log', async () => {
    const def = demoFlow(['Transient', 'Transient'], { retry: { maxRetries: 3, backoff: { kind: 'none' } } });
    const engine = new FlowEngine({ store, clock: new ManualClock() });
    const flow = await engine.runToEnd(await engine.startFlow(def), def);
    const merged = await store.repository.loadWithErrorRows(flow.id, def);
    expect(merged).toEqual(flow);
    expect(merged.steps[2]?.errors.map((e) => e.attemptNumber)).toEqual([1, 2]);
  });

  it('reports a row that has no StepFailed event behind it', async () => {
    const def = demoFlow(['Transient'], { retry: { maxRetries: 3, backoff: { kind: 'none' } } });
    const engine = new FlowEngine({ store, clock: new ManualClock() });
    const flow = await engine.runToEnd(await engine.startFlow(def), def);
    await adminQuery(
      `INSERT INTO ${schema.name}.step_execution_errors (flow_id, step_id, attempt_number, error_class, error_message) VALUES ($1, 'middle', 9, 'Runtime', 'forged')`,
      [flow.id],
    );
    const error: unknown = await store.repository.loadWithErrorRows(flow.id, def).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptEventError);
    expect((error as Error).message).toMatch(/step middle \(2 rows\) disagree with its StepFailed events \(1\)/);
  });
});
