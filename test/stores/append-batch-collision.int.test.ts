// The one way a request can abort a batch's transaction: its insert collides with another process's
// uncommitted append of the same version. Forced here: a second connection holds that append open
// until the batch is seen waiting on it, then commits.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConcurrencyError } from '../../src/core/errors.js';
import type { AppendOutcome, AppendRequest } from '../../src/stores/flow-store.js';
import { appendOneByOne } from '../../src/stores/sql/append-transaction.js';
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

  /**
   * Holds an uncommitted append of version 2 of `contested` on another connection, runs `batch` (whose
   * append of the same version must then wait), lets the holder commit once the batch waits on it, and
   * returns what the batch returned.
   */
  async function collide<T>(contested: string, batch: () => Promise<T>): Promise<T> {
    const theirs = prepareAppend({ flowId: contested, expectedVersion: 1, events: [stepStarted(0, 7)] });
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
    const running = batch();
    await waitUntil(
      async () =>
        (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [APP])).length > 0,
      'the batch waiting on the uncommitted version 2',
    );
    open();
    await holder;
    return running;
  }

  async function expectOnlyContestedFailed(outcomes: readonly AppendOutcome[], flows: readonly string[]): Promise<void> {
    const [before, contested, after] = flows as [string, string, string];
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(outcomes[1]?.ok === false && outcomes[1].error).toBeInstanceOf(ConcurrencyError);
    expect((await store.list(before)).map((e) => e.version)).toEqual([1]);
    expect((await store.list(after)).map((e) => e.version)).toEqual([1, 2]);
    const contestedLog = await store.list(contested);
    expect(contestedLog.map((e) => (e.type === 'StepStarted' ? e.attempt : e.type))).toEqual(['FlowInitialized', 7]);
    expect((await store.listFlows({ limit: 1000 })).find((f) => f.flowId === contested)?.version).toBe(2);
  }

  /** Three flows whose ids sort as named, the middle one created; and the batch appending to each. */
  async function threeFlows(): Promise<{ flows: string[]; requests: AppendRequest[] }> {
    const flows = [randomUUID(), randomUUID(), randomUUID()].sort();
    const [before, contested, after] = flows as [string, string, string];
    await store.append(contested, 0, [flowInitialized()]);
    return {
      flows,
      requests: [
        { flowId: before, expectedVersion: 0, events: [flowInitialized()] },
        { flowId: contested, expectedVersion: 1, events: [stepStarted(0, 1)] },
        { flowId: after, expectedVersion: 0, events: [flowInitialized(), stepStarted(0)] },
      ],
    };
  }

  it('appendBatch fails the colliding request alone and commits the rest of the batch', async () => {
    const { flows, requests } = await threeFlows();
    const outcomes = await collide(flows[1] as string, () => store.appendBatch(requests));
    await expectOnlyContestedFailed(outcomes, flows);
  });

  it('a statement per request (the fallback) names the colliding request, and reruns the rest without it', async () => {
    const { flows, requests } = await threeFlows();
    const prepared = requests.map(prepareAppend).filter((p): p is PreparedAppend => p instanceof PreparedAppend);
    const outcomes = await collide(flows[1] as string, () => appendOneByOne(store.executor, prepared));
    await expectOnlyContestedFailed(
      prepared.map((p) => outcomes.get(p) ?? { ok: false, error: new Error('missing') }),
      flows,
    );
  });
});
