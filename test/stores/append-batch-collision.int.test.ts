// The one way a request can abort a batch's transaction: its insert collides with another process's
// uncommitted append of the same version. Forced here: a second connection holds that append open
// until the batch is seen waiting on it, then commits.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConcurrencyError } from '../../src/core/errors.js';
import { run } from '../../src/stores/sql/executor.js';
import { prepareAppend, PreparedAppend } from '../../src/stores/sql/prepared-append.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { adminQuery, createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { flowInitialized, stepStarted } from '../helpers/events.js';
import { waitUntil } from '../support/wait-until.js';

const APP = `cf-batch-${randomUUID().slice(0, 8)}`;

describeWithPg('appendBatch against a concurrent writer (PostgreSQL)', () => {
  let schema: TestSchema;
  let store: SqlFlowStore;
  let other: SqlFlowStore;
  beforeAll(async () => {
    schema = await createTestSchema('batch_collision');
    store = await schema.openStore({ applicationName: APP });
    other = await schema.openStore();
  });
  afterAll(async () => {
    await store?.close();
    await other?.close();
    await schema?.drop();
  });

  it('fails the colliding request alone and commits the rest of the batch', async () => {
    const [contested, before, after] = [randomUUID(), randomUUID(), randomUUID()].sort();
    await store.append(contested as string, 0, [flowInitialized()]);
    const theirs = prepareAppend({ flowId: contested as string, expectedVersion: 1, events: [stepStarted(0, 7)] });
    if (!(theirs instanceof PreparedAppend)) throw theirs;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let inserted = false;
    const holder = other.executor.transaction(async (tx) => {
      await run(tx, theirs.query);
      inserted = true;
      await gate;
    });
    await waitUntil(() => inserted, 'the other writer inserting version 2');

    const batch = store.appendBatch([
      { flowId: before as string, expectedVersion: 0, events: [flowInitialized()] },
      { flowId: contested as string, expectedVersion: 1, events: [stepStarted(0, 1)] },
      { flowId: after as string, expectedVersion: 0, events: [flowInitialized(), stepStarted(0)] },
    ]);
    await waitUntil(
      async () =>
        (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [APP])).length > 0,
      'the batch waiting on the uncommitted version 2',
    );
    open();
    await holder;
    const outcomes = await batch;

    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(outcomes[1]?.ok === false && outcomes[1].error).toBeInstanceOf(ConcurrencyError);
    expect((await store.list(before as string)).map((e) => e.version)).toEqual([1]);
    expect((await store.list(after as string)).map((e) => e.version)).toEqual([1, 2]);
    const contestedLog = await store.list(contested as string);
    expect(contestedLog.map((e) => (e.type === 'StepStarted' ? e.attempt : e.type))).toEqual(['FlowInitialized', 7]);
    expect((await store.listFlows({ limit: 1000 })).find((f) => f.flowId === contested)?.version).toBe(2);
  });
});
