// appendBatch when the database itself fails: an ambiguous commit resolved per request, and a failure
// that outlives the retries (or is not transient) rejecting the whole batch, never half of it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConcurrencyError, StoreError } from '../../src/core/errors.js';
import { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { flowInitialized, stepFailed, stepStarted } from '../helpers/events.js';
import { flakyExecutor } from '../helpers/flaky-executor.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';

describeWithPg('appendBatch when the PostgreSQL server fails', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema('batch_failures');
  });
  afterAll(async () => {
    await schema.drop();
  });

  it('a batch whose commit a lost connection hid succeeds once; a stale request in it stays a conflict', async () => {
    const flaky = flakyExecutor(schema.executor());
    const store = await SqlFlowStore.open(flaky);
    try {
      const [a, stale, b] = [randomUUID(), randomUUID(), randomUUID()];
      await store.append(stale, 0, [flowInitialized(), stepStarted(0)]);
      flaky.loseConnectionAfter(/INSERT INTO event_log/, 1);
      const outcomes = await store.appendBatch([
        { flowId: a, expectedVersion: 0, events: [flowInitialized(), stepStarted(0)] },
        { flowId: stale, expectedVersion: 1, events: [stepStarted(0, 2)] },
        { flowId: b, expectedVersion: 0, events: [flowInitialized()] },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
      expect(outcomes[1]?.ok === false && outcomes[1].error).toBeInstanceOf(ConcurrencyError);
      const first = outcomes[0];
      expect(first?.ok && first.result.events).toEqual(await store.list(a));
      expect((await store.list(a)).map((e) => e.version)).toEqual([1, 2]);
      expect((await store.list(b)).map((e) => e.version)).toEqual([1]);
      expect((await store.list(stale)).map((e) => e.version)).toEqual([1, 2]);
    } finally {
      await store.close();
    }
  });

  it('a connection lost on every attempt rejects the whole batch with a StoreError', async () => {
    const flaky = flakyExecutor(schema.executor());
    const store = await SqlFlowStore.open(flaky);
    try {
      flaky.loseConnectionAfter(/INSERT INTO event_log/, 100);
      const batch = store.appendBatch([
        { flowId: randomUUID(), expectedVersion: 0, events: [flowInitialized()] },
        { flowId: randomUUID(), expectedVersion: 0, events: [flowInitialized()] },
      ]);
      await expect(batch).rejects.toBeInstanceOf(StoreError);
      await expect(batch).rejects.toThrow(/append a batch of 2 failed: .*after 6 attempts/);
    } finally {
      await store.close();
    }
  });

  it('a database error that is no conflict rejects the whole batch and writes nothing of it', async () => {
    const own = await createTestSchema('batch_broken');
    const store = await own.openStore();
    try {
      // A table the append writes to is gone: every attempt fails the same way.
      await store.executor.exec('DROP TABLE step_execution_errors CASCADE');
      const [fine, failing] = [randomUUID(), randomUUID()];
      const batch = store.appendBatch([
        { flowId: fine, expectedVersion: 0, events: [flowInitialized()] },
        { flowId: failing, expectedVersion: 0, events: [flowInitialized(), stepFailed(0)] },
      ]);
      await expect(batch).rejects.toBeInstanceOf(StoreError);
      expect(await store.list(fine)).toEqual([]);
      expect(await store.list(failing)).toEqual([]);
    } finally {
      await store.close();
      await own.drop();
    }
  });
});
