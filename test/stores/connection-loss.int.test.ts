import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EventOf, NewFlowEvent } from '../../src/core/events.js';
import { StoreError } from '../../src/core/errors.js';
import { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { flowInitialized, stepStarted } from '../helpers/events.js';
import { flakyExecutor } from '../helpers/flaky-executor.js';
import { adminQuery, createTestSchema, describeWithPg, TEST_PG_URL, type TestSchema } from '../helpers/pg.js';
import { PgExecutor } from '../../src/stores/pg/pg-executor.js';

describeWithPg('surviving lost connections on the PostgreSQL server', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema('connection_loss');
  });
  afterAll(async () => {
    await schema.drop();
  });

  it('keeps appending while pg_terminate_backend kills its connections: no lost or duplicated event', async () => {
    const applicationName = `cf-kill-${randomUUID().slice(0, 8)}`;
    const store = await schema.openStore({ applicationName });
    try {
      const flows = [randomUUID(), randomUUID(), randomUUID()];
      const perFlow = 60;
      let killed = 0;
      let appending = true;
      let appended = 0;
      let progressed: () => void = () => undefined;
      // A second connection kills every connection of the store, repeatedly, while appends run: after
      // every ten appends that succeeded.
      const killer = (async () => {
        for (let round = 0; round < 12 && appending; round++) {
          const target = appended + 10;
          while (appending && appended < target) await new Promise<void>((resolve) => (progressed = resolve));
          if (!appending) break;
          const rows = await adminQuery<{ ok: boolean }>(
            'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
            [applicationName],
          );
          killed += rows.filter((row) => row.ok).length;
        }
      })();
      const writer = async (flowId: string): Promise<void> => {
        const appendOne = async (version: number, events: NewFlowEvent[]): Promise<void> => {
          await store.append(flowId, version, events);
          appended += 1;
          progressed();
        };
        await appendOne(0, [flowInitialized()]);
        for (let attempt = 1; attempt < perFlow; attempt++) await appendOne(attempt, [stepStarted(0, attempt)]);
      };
      await Promise.all(flows.map(writer));
      appending = false;
      progressed();
      await killer;
      expect(killed).toBeGreaterThan(0);
      for (const flowId of flows) {
        const events = await store.list(flowId);
        expect(events.map((e) => e.version)).toEqual(Array.from({ length: perFlow }, (_, i) => i + 1));
        expect(events.slice(1).map((e) => (e as EventOf<'StepStarted'>).attempt)).toEqual(
          Array.from({ length: perFlow - 1 }, (_, i) => i + 1),
        );
      }
    } finally {
      await store.close();
    }
  });

  it('an append whose commit was hidden by a lost connection succeeds once, without duplicating', async () => {
    const flaky = flakyExecutor(schema.executor());
    const store = await SqlFlowStore.open(flaky);
    try {
      const flowId = randomUUID();
      const batch: NewFlowEvent[] = [flowInitialized(), stepStarted(0)];
      flaky.loseConnectionAfter(/INSERT INTO event_log/, 1);
      const result = await store.append(flowId, 0, batch);
      expect(result.version).toBe(2);
      const listed = await store.list(flowId);
      expect(listed).toEqual(result.events);
      expect(listed.map((e) => e.type)).toEqual(['FlowInitialized', 'StepStarted']);
    } finally {
      await store.close();
    }
  });

  it('a different batch found at those versions is still a conflict', async () => {
    const flaky = flakyExecutor(schema.executor());
    const store = await SqlFlowStore.open(flaky);
    try {
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized()]);
      // Someone else wrote version 2; our attempt "loses its connection" and the retry must not claim it.
      await store.append(flowId, 1, [stepStarted(0, 7)]);
      flaky.loseConnectionAfter(/INSERT INTO event_log/, 1);
      await expect(store.append(flowId, 1, [stepStarted(0, 8)])).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    } finally {
      await store.close();
    }
  });

  it('gives up after bounded retries with a StoreError naming the operation', async () => {
    const flaky = flakyExecutor(schema.executor());
    const store = await SqlFlowStore.open(flaky);
    try {
      flaky.loseConnectionAfter(/FROM event_log/, 100);
      const read = store.list(randomUUID());
      await expect(read).rejects.toBeInstanceOf(StoreError);
      await expect(store.list(randomUUID())).rejects.toThrow(/list events of flow .* failed: .*after 6 attempts/);
    } finally {
      await store.close();
    }
  });

  it('an unreachable server surfaces as a StoreError after retries', async () => {
    const url = new URL(TEST_PG_URL);
    url.port = '1'; // nothing listens there
    const executor = new PgExecutor({ connectionString: url.toString(), connectionTimeoutMillis: 500 });
    await expect(SqlFlowStore.open(executor)).rejects.toThrow(/migrate the database failed/);
  });
});
