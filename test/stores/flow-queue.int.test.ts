// The flow queue contract, on every store: claims never overlap, leases are exclusive until they
// expire, the projection kept by appends equals the one rebuilt from the log.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewFlowEvent } from '../../src/core/events.js';
import type { FlowStore, FlowSummary } from '../../src/stores/flow-store.js';
import {
  flowCompleted,
  flowInitialized,
  nextTs,
  retryScheduled,
  shardedStepStarted,
  shardFailed,
  shardFinished,
  shardRetryScheduled,
  shardStarted,
  stepFailed,
  stepFinished,
  stepStarted,
} from '../helpers/events.js';
import { engineStores, storeRunner } from '../support/stores.js';
import { untilLeaseExpired } from '../support/wait-until.js';

async function newFlow(store: FlowStore, events: NewFlowEvent[] = [], name = 'queued'): Promise<string> {
  const flowId = randomUUID();
  await store.append(flowId, 0, [flowInitialized(name), ...events]);
  return flowId;
}

/** A retry due an hour from now (the helpers' timestamps are in the past): the flow waits. */
function laterRetry(): NewFlowEvent {
  const retry = retryScheduled(0, 1) as Extract<NewFlowEvent, { type: 'RetryScheduled' }>;
  return { ...retry, delayMs: 3_600_000, notBefore: new Date(Date.now() + 3_600_000).toISOString() };
}

// A fresh embedded database per test takes seconds on a loaded two-core machine.
describe.each(engineStores)('flow queue on $name', { timeout: 120_000 }, ({ create }) => {
  const withStore = storeRunner(create);

  it('concurrent claimers never claim the same flow, and every runnable flow is claimed once', async () => {
    await withStore(async (store) => {
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++) ids.add(await newFlow(store));
      const claimed: string[] = [];
      for (let round = 0; round < 10 && claimed.length < ids.size; round++) {
        const batches = await Promise.all(
          Array.from({ length: 5 }, (_, w) => store.claimFlows(`worker-${w}`, { limit: 3, leaseMs: 60_000 })),
        );
        for (const batch of batches) {
          expect(batch.length).toBeLessThanOrEqual(3);
          claimed.push(...batch.map((c) => c.flowId));
        }
      }
      expect(claimed.length).toBe(ids.size);
      expect(new Set(claimed)).toEqual(ids);
      expect(await store.claimFlows('late', { limit: 100, leaseMs: 60_000 })).toEqual([]);
    });
  });

  it('a claim asked for events returns each claimed flow with its whole log, as list reads it', async () => {
    await withStore(async (store) => {
      const short = await newFlow(store);
      const longer = await newFlow(store, [stepStarted(0), stepFinished(0, []), stepStarted(1)]);
      const claimed = await store.claimFlows('w', { limit: 10, leaseMs: 60_000, events: true });
      expect(claimed.map((c) => c.flowId).sort()).toEqual([short, longer].sort());
      for (const c of claimed) {
        expect(c.events).toEqual(await store.list(c.flowId));
        expect(c.events?.at(-1)?.version).toBe(c.version);
      }
      expect(claimed.find((c) => c.flowId === longer)).toMatchObject({ status: 'running', version: 4 });
      const other = await newFlow(store);
      expect(await store.claimFlows('w', { limit: 10, leaseMs: 60_000 })).toEqual([{ flowId: other, status: 'pending', version: 1 }]);
    });
  });

  it('claims only open, due flows whose lease is free or expired', async () => {
    await withStore(async (store) => {
      const due = await newFlow(store);
      await newFlow(store, [stepStarted(0), stepFailed(0)]); // failed for good
      await newFlow(store, [stepStarted(0), stepFailed(0), laterRetry()]); // waiting an hour
      const completed = await newFlow(store);
      await store.append(completed, 1, [stepStarted(0), stepFinished(0, []), stepStarted(1), stepFinished(1, []), stepStarted(2), stepFinished(2, []), flowCompleted()]);
      const leasedBriefly = await newFlow(store);
      expect(await store.acquireLease(leasedBriefly, 'crashed', 150)).toEqual({ acquired: true });

      expect((await store.claimFlows('w', { limit: 10, leaseMs: 60_000 })).map((c) => c.flowId)).toEqual([due]);
      await untilLeaseExpired(store, leasedBriefly);
      expect(await store.claimFlows('w', { limit: 10, leaseMs: 60_000 })).toMatchObject([{ flowId: leasedBriefly, status: 'pending', version: 1 }]);
    });
  });

  it('a lease is exclusive until it expires; renewals report status; releases free the flow', async () => {
    await withStore(async (store) => {
      const flowId = await newFlow(store);
      expect(await store.acquireLease(randomUUID(), 'a', 1_000)).toEqual({ acquired: false, reason: 'not_found' });
      expect(await store.acquireLease(flowId, 'a', 300)).toEqual({ acquired: true });
      expect(await store.acquireLease(flowId, 'a', 300)).toEqual({ acquired: true }); // its own
      expect(await store.acquireLease(flowId, 'b', 300)).toMatchObject({ acquired: false, reason: 'leased', owner: 'a' });
      expect((await store.renewWork('a', { flowIds: [flowId], items: [] }, 300)).flows).toEqual(new Map([[flowId, 'pending']]));
      expect((await store.renewWork('b', { flowIds: [flowId], items: [] }, 300)).flows).toEqual(new Map());
      await store.releaseLease(flowId, 'b'); // not b's: nothing happens
      expect(await store.acquireLease(flowId, 'b', 300)).toMatchObject({ acquired: false, owner: 'a' });
      await store.releaseLease(flowId, 'a');
      expect(await store.acquireLease(flowId, 'b', 300)).toEqual({ acquired: true });
      await untilLeaseExpired(store, flowId);
      expect((await store.renewWork('b', { flowIds: [flowId], items: [] }, 300)).flows).toEqual(new Map([[flowId, 'pending']])); // expired but not taken: still b's
      await untilLeaseExpired(store, flowId);
      expect(await store.acquireLease(flowId, 'c', 300)).toEqual({ acquired: true });
      expect((await store.renewWork('b', { flowIds: [flowId], items: [] }, 300)).flows).toEqual(new Map()); // lost
    });
  });

  it('says when to look again and how deep the queue is', async () => {
    await withStore(async (store) => {
      expect(await store.nextWakeAt()).toBeNull();
      const waiting = await newFlow(store, [stepStarted(0), stepFailed(0), laterRetry()]);
      const [row] = await store.listFlows();
      expect(row).toMatchObject({ flowId: waiting, status: 'waiting' });
      expect(await store.nextWakeAt()).toBe(Date.parse(row?.nextDueAt ?? ''));
      await newFlow(store, [stepStarted(0)]);
      await newFlow(store);
      expect(await store.queueDepth()).toEqual({ pending: 1, running: 1, waiting: 1 });
      expect(await store.nextWakeAt()).toBeLessThanOrEqual(Date.now());
    });
  });

  it('lists newest first by status and name, one page at a time', async () => {
    await withStore(async (store) => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push(await newFlow(store, i % 2 === 0 ? [] : [stepStarted(0), stepFailed(0)], i < 4 ? 'alpha' : 'beta'));
      const pages: FlowSummary[][] = [];
      let after: string | undefined;
      do {
        const page = await store.listFlows({ limit: 3, ...(after === undefined ? {} : { after }) });
        pages.push(page);
        after = page.length === 3 ? page[2]?.flowId : undefined;
      } while (after !== undefined);
      expect(pages.flat().map((f) => f.flowId)).toEqual([...ids].reverse());
      expect((await store.listFlows({ status: ['failed'] })).map((f) => f.flowId)).toEqual([ids[5], ids[3], ids[1]]);
      expect((await store.listFlows({ status: ['failed', 'pending'], name: 'beta' })).map((f) => f.flowId)).toEqual([ids[6], ids[5], ids[4]]);
      expect(await store.listFlows({ after: randomUUID() })).toEqual([]);
    });
  });

  it('the rows kept by appends equal the rows rebuilt from the log (leases kept)', async () => {
    await withStore(async (store) => {
      await newFlow(store);
      await newFlow(store, [stepStarted(0)]);
      await newFlow(store, [stepStarted(0), stepFailed(0)]);
      await newFlow(store, [stepStarted(0), stepFailed(0), laterRetry()]);
      await newFlow(store, [stepStarted(0), stepFailed(0), retryScheduled(0, 1)]);
      const cancelled = await newFlow(store, [stepStarted(0)]);
      await store.append(cancelled, 2, [{ type: 'FlowCancelled', reason: 'test', ts: new Date().toISOString() }]);
      await store.append(cancelled, 3, [stepFinished(0, [])]); // the outcome in flight, after the cancel
      const leased = await newFlow(store);
      await store.acquireLease(leased, 'keeper', 60_000);

      const comparable = (rows: FlowSummary[]) =>
        rows.map(({ nextDueAt, ...rest }) => ({ ...rest, due: rest.status === 'waiting' ? nextDueAt : nextDueAt !== null }));
      const kept = comparable(await store.listFlows());
      expect(kept.map((r) => r.status)).toEqual(['pending', 'cancelled', 'pending', 'waiting', 'failed', 'running', 'pending']);
      expect(await store.rebuildQueue()).toBe(7);
      expect(comparable(await store.listFlows())).toEqual(kept);
      expect(await store.rebuildQueue(cancelled)).toBe(1);
    });
  });

  it("a sibling shard's outcome after a shard failed for good: the rebuilt row stays failed as the appended one, unless a retry came between", async () => {
    await withStore(async (store) => {
      const shard = (index: number) => ({ index, count: 2 });
      /** Step 1 of a flow split in two shards, both started; then each batch of `batches` appended on its own. */
      const shardedFlow = async (...batches: NewFlowEvent[][]): Promise<string> => {
        const flowId = await newFlow(store, [stepStarted(0), stepFinished(0, []), shardedStepStarted(1, 2), shardStarted(1, shard(0)), shardStarted(1, shard(1))]);
        let version = 6;
        for (const batch of batches) {
          await store.append(flowId, version, batch);
          version += batch.length;
        }
        return flowId;
      };
      const failedForGood = () => shardFailed(1, shard(0), { errorClass: 'Permanent', retryCount: 0 });
      const failed = await shardedFlow([failedForGood()], [shardFinished(1, shard(1), [])]);
      const signal: NewFlowEvent = { type: 'StepSignal', ts: nextTs(), stepIndex: 1, stepId: 'score', attempt: 1, name: 'note', data: 'late', shard: shard(1) };
      const signalled = await shardedFlow([failedForGood()], [signal, shardFinished(1, shard(1), [])]);
      const retried = await shardedFlow([failedForGood()], [shardRetryScheduled(1, shard(0), 1)], [shardFinished(1, shard(1), [])]);
      const retriedLater = await shardedFlow([failedForGood(), shardRetryScheduled(1, shard(0), 1)], [shardFinished(1, shard(1), [])]);
      // One process's waiting updates are committed together: the failure and the sibling's outcome in one append.
      const together = await shardedFlow([failedForGood(), shardFinished(1, shard(1), [])]);
      const togetherRetried = await shardedFlow([failedForGood(), shardRetryScheduled(1, shard(0), 1), shardFinished(1, shard(1), [])]);

      const comparable = (rows: FlowSummary[]) =>
        rows.map(({ nextDueAt, ...rest }) => ({ ...rest, due: rest.status === 'waiting' ? nextDueAt : nextDueAt !== null }));
      const kept = comparable(await store.listFlows());
      const statusOf = (rows: ReturnType<typeof comparable>, flowId: string) => rows.find((r) => r.flowId === flowId)?.status;
      expect([failed, signalled, retried, retriedLater, together, togetherRetried].map((id) => statusOf(kept, id))).toEqual([
        'failed',
        'failed',
        'running',
        'running',
        'failed',
        'running',
      ]);
      expect(kept.find((r) => r.flowId === failed)).toMatchObject({ lastEventType: 'StepFinished', due: false });
      expect(kept.find((r) => r.flowId === together)).toMatchObject({ lastEventType: 'StepFinished', due: false });
      expect(await store.rebuildQueue()).toBe(6);
      expect(comparable(await store.listFlows())).toEqual(kept);
      expect(await store.rebuildQueue(failed)).toBe(1);
      expect(comparable(await store.listFlows())).toEqual(kept);
      expect(await store.claimFlows('w', { limit: 10, leaseMs: 60_000 })).toHaveLength(3); // the retried ones only
    });
  });

  it('appendBatch (group commit, many flows in one statement) projects each flow as its own append does', async () => {
    await withStore(async (store) => {
      const shard = (index: number) => ({ index, count: 2 });
      const started = [stepStarted(0), stepFinished(0, []), shardedStepStarted(1, 2), shardStarted(1, shard(0)), shardStarted(1, shard(1))];
      const [failed, retried, plain] = [await newFlow(store, started), await newFlow(store, started), await newFlow(store, started)];
      const failedForGood = () => shardFailed(1, shard(0), { errorClass: 'Permanent', retryCount: 0 });
      const outcomes = await store.appendBatch([
        { flowId: failed, expectedVersion: 6, events: [failedForGood(), shardFinished(1, shard(1), [])] },
        { flowId: retried, expectedVersion: 6, events: [failedForGood(), shardRetryScheduled(1, shard(0), 1), shardFinished(1, shard(1), [])] },
        { flowId: plain, expectedVersion: 6, events: [shardFinished(1, shard(0), [])] },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, true, true]);
      const rows = await store.listFlows();
      const statusOf = (flowId: string) => rows.find((r) => r.flowId === flowId)?.status;
      expect([failed, retried, plain].map(statusOf)).toEqual(['failed', 'running', 'running']);
      expect(rows.find((r) => r.flowId === failed)?.nextDueAt).toBeNull();
    });
  });
});
