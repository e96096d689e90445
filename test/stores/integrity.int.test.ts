import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConcurrencyError, CorruptEventError, StoreError } from '../../src/core/errors.js';
import { eventPayload } from '../../src/core/event-codec.js';
import { replay } from '../../src/core/reducer.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { errorTimelineQuery } from '../../src/stores/sql/error-queries.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import {
  artifactOf,
  flowInitialized,
  retryScheduled,
  shapeOf,
  stepFailed,
  stepFinished,
  stepStarted,
} from '../helpers/events.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { artifactRowCount, errorRows, eventRowCount } from '../helpers/sql-inspect.js';

describeWithPg('integrity on the PostgreSQL server', () => {
  let schema: TestSchema;
  let store: SqlFlowStore;
  beforeAll(async () => {
    schema = await createTestSchema('integrity');
    store = await schema.openStore();
  });
  afterAll(async () => {
    await store.close();
    await schema.drop();
  });

  it('rejects a corrupt row on read with CorruptEventError naming flow and version', async () => {
    const flowId = randomUUID();
    await store.append(flowId, 0, [flowInitialized()]);
    await store.executor.query(
      `INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload)
       VALUES ($1, 2, now(), 'StepStarted', 1, '{"stepIndex": "zero", "stepId": "load"}')`,
      [flowId],
    );
    const read = store.list(flowId);
    await expect(read).rejects.toBeInstanceOf(CorruptEventError);
    await expect(store.list(flowId)).rejects.toMatchObject({ flowId, version: 2 });
    await expect(store.repository.load(flowId, shapeOf())).rejects.toThrow(new RegExp(`flow ${flowId} at version 2`));
  });

  it('stores the event body as payload, without type, timestamp or envelope', async () => {
    const flowId = randomUUID();
    const failed = stepFailed(0);
    await store.append(flowId, 0, [flowInitialized(), failed]);
    const rows = await store.executor.query<{ payload: unknown; event_type: string; schema_version: number }>(
      'SELECT payload, event_type, schema_version FROM event_log WHERE flow_id = $1 AND version = 2',
      [flowId],
    );
    expect(rows).toEqual([{ payload: eventPayload(failed), event_type: 'StepFailed', schema_version: 1 }]);
  });

  it('an unknown event type cannot even be stored (CHECK constraint)', async () => {
    const insert = store.executor.query(
      `INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload)
       VALUES ($1, 1, now(), 'StepExploded', 1, '{}')`,
      [randomUUID()],
    );
    await expect(insert).rejects.toThrow(/event_log_event_type_check/);
  });

  it('a failure injected between the StepFailed event and its error row leaves neither', async () => {
    const flowId = randomUUID();
    await store.append(flowId, 0, [flowInitialized(), stepStarted(0)]);
    // A trigger scoped to this flow fails the error-row insert after the event insert ran.
    await store.executor.exec(`
      CREATE FUNCTION fail_error_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.flow_id = '${flowId}' THEN RAISE EXCEPTION 'injected failure'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER inject BEFORE INSERT ON step_execution_errors FOR EACH ROW EXECUTE FUNCTION fail_error_row();`);
    try {
      const art = artifactOf({ injected: randomUUID() });
      const append = store.append(flowId, 2, [stepFinished(0, [art.hash]), stepFailed(1)], { artifacts: [art] });
      await expect(append).rejects.toBeInstanceOf(StoreError);
      await expect(store.append(flowId, 2, [stepFailed(1)])).rejects.toThrow(/append to flow .* failed: injected failure/);
      expect(await eventRowCount(store.executor, flowId)).toBe(2);
      expect(await errorRows(store.executor, flowId)).toEqual([]);
      expect(await artifactRowCount(store.executor, art.hash)).toBe(0);
    } finally {
      await store.executor.exec('DROP TRIGGER inject ON step_execution_errors; DROP FUNCTION fail_error_row();');
    }
    // The same append succeeds once the fault is gone: nothing half-written was left in the way.
    await store.append(flowId, 2, [stepFailed(1)]);
    expect(await errorRows(store.executor, flowId)).toHaveLength(1);
  });

  it('an artifact the database rejects leaves no event behind', async () => {
    const flowId = randomUUID();
    const bad = { kind: 'molecules', hash: 'not-a-hash', payload: {} };
    const append = store.append(flowId, 0, [flowInitialized(), stepFinished(0, [])], { artifacts: [bad] });
    await expect(append).rejects.toBeInstanceOf(StoreError);
    expect(await eventRowCount(store.executor, flowId)).toBe(0);
  });

  it('a conflict leaves no event, error row or artifact', async () => {
    const flowId = randomUUID();
    await store.append(flowId, 0, [flowInitialized()]);
    const art = artifactOf({ conflict: randomUUID() });
    const append = store.append(flowId, 0, [stepFailed(0), stepFinished(0, [art.hash])], { artifacts: [art] });
    await expect(append).rejects.toBeInstanceOf(ConcurrencyError);
    expect(await eventRowCount(store.executor, flowId)).toBe(1);
    expect(await errorRows(store.executor, flowId)).toEqual([]);
    expect(await artifactRowCount(store.executor, art.hash)).toBe(0);
  });

  it('records which StepFinished first produced an artifact', async () => {
    const flowId = randomUUID();
    const art = artifactOf({ produced: randomUUID() });
    const { events } = await store.append(flowId, 0, [
      flowInitialized(),
      stepStarted(0),
      stepFinished(0, [art.hash]),
      stepFinished(1, [art.hash]),
    ], { artifacts: [art] });
    const rows = await store.executor.query<{ produced_in_seq: string }>(
      'SELECT produced_in_seq FROM workflow_step_artifacts WHERE hash = $1',
      [art.hash],
    );
    expect(Number(rows[0]?.produced_in_seq)).toBe(events[2]?.seq);
  });

  it('rejects flow ids that are not UUIDs on append, and finds no flow for them on read', async () => {
    await expect(store.append('not-a-uuid', 0, [flowInitialized()])).rejects.toThrow(/append to flow not-a-uuid failed/);
    expect(await store.list('not-a-uuid')).toEqual([]);
    expect(await store.listErrors('not-a-uuid')).toEqual([]);
  });

  it('PgFlowRepository.load rebuilds the same FlowInstance as replay in memory', async () => {
    const flowId = randomUUID();
    const memory = new MemoryFlowStore();
    const art = artifactOf({ parity: randomUUID() });
    const batches = [
      [flowInitialized(), stepStarted(0)],
      [stepFailed(0, { attempt: 1 }), retryScheduled(0, 1)],
      [stepStarted(0, 2), stepFailed(0, { attempt: 2, errorClass: 'Runtime' }), retryScheduled(0, 2)],
      [stepStarted(0, 3), stepFinished(0, [art.hash], 3)],
    ];
    let version = 0;
    for (const batch of batches) {
      await memory.append(flowId, version, batch, { artifacts: [art] });
      version = (await store.append(flowId, version, batch, { artifacts: [art] })).version;
    }
    const fromDb = await store.repository.load(flowId, shapeOf());
    expect(fromDb).toEqual(replay(flowId, await memory.list(flowId), shapeOf()));
    expect(fromDb.steps[0]?.errors).toHaveLength(2);
  });

  it('the error timeline query uses idx_step_execution_errors_flow_step_attempt', async () => {
    const flowId = randomUUID();
    const failures = Array.from({ length: 30 }, (_, i) => stepFailed(i % 3, { attempt: i + 1 }));
    await store.append(flowId, 0, [flowInitialized(), ...failures]);
    await store.executor.exec('ANALYZE step_execution_errors');
    const query = errorTimelineQuery(flowId, 'load');
    const plan = await store.executor.transaction(async (tx) => {
      // A small table may be scanned sequentially; forbid that to see which index the planner can use.
      await tx.query('SET LOCAL enable_seqscan = off');
      return tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query.text}`, query.values);
    });
    expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toContain('idx_step_execution_errors_flow_step_attempt');
  });
});
