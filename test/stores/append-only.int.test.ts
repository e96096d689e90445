import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { artifactOf, flowInitialized, stepFailed, stepFinished, stepStarted } from '../helpers/events.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { artifactRowCount, errorRows, eventRowCount } from '../helpers/sql-inspect.js';

describeWithPg('append-only tables in the database itself', () => {
  let schema: TestSchema;
  let store: SqlFlowStore;
  const flowId = randomUUID();
  const artifact = artifactOf({ n: 1, id: randomUUID() });
  beforeAll(async () => {
    schema = await createTestSchema('append_only');
    store = await schema.openStore();
    await store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFailed(0), stepFinished(1, [artifact.hash])], {
      artifacts: [artifact],
    });
  });
  afterAll(async () => {
    await store.close();
    await schema.drop();
  });

  const statements = [
    ['UPDATE event_log', `UPDATE event_log SET ts = now() WHERE flow_id = $1`],
    ['DELETE FROM event_log', `DELETE FROM event_log WHERE flow_id = $1`],
    ['UPDATE step_execution_errors', `UPDATE step_execution_errors SET error_class = 'Runtime' WHERE flow_id = $1`],
    ['DELETE FROM step_execution_errors', `DELETE FROM step_execution_errors WHERE flow_id = $1`],
    ['UPDATE workflow_step_artifacts', `UPDATE workflow_step_artifacts SET payload = '{"n": 2}' WHERE $1::uuid IS NOT NULL`],
    ['DELETE FROM workflow_step_artifacts', `DELETE FROM workflow_step_artifacts WHERE $1::uuid IS NOT NULL`],
  ] as const;

  it.each(statements)('%s is rejected', async (_label, sql) => {
    await expect(store.executor.query(sql, [flowId])).rejects.toThrow(/append-only/);
    expect(await eventRowCount(store.executor, flowId)).toBe(4);
    expect(await errorRows(store.executor, flowId)).toMatchObject([{ error_class: 'Transient' }]);
    expect(await store.getArtifacts([artifact.hash])).toEqual([artifact]);
  });

  it.each(['event_log', 'step_execution_errors', 'workflow_step_artifacts'])('TRUNCATE %s is rejected', async (table) => {
    await expect(store.executor.exec(`TRUNCATE ${table} CASCADE`)).rejects.toThrow(/append-only/);
    expect(await eventRowCount(store.executor, flowId)).toBe(4);
    expect(await artifactRowCount(store.executor, artifact.hash)).toBe(1);
  });
});
