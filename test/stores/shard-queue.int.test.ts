// The work-item queue contract (migrations 0007, 0012), on every store: claims never overlap, only an
// open flow's items are claimed, leases are exclusive until they expire, a shard's events keep its flow
// running unless one fails for good, and a graph's whole steps are items of the same table, claimed,
// renewed, released and expired as shards are.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewFlowEvent } from '../../src/core/events.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import type { ClaimedShard } from '../../src/stores/shard-queue.js';
import { flowInitialized, nextTs, stepFailed, stepFinished, stepStarted } from '../helpers/events.js';
import { engineStores, storeRunner } from '../support/stores.js';
import { waitUntil } from '../support/wait-until.js';

const SHARDS = 4;
const shard = (index: number) => ({ index, count: SHARDS });

/** A flow whose step 1 started sharded in SHARDS shards. */
async function shardedFlow(store: FlowStore): Promise<string> {
  const flowId = randomUUID();
  const started: NewFlowEvent = { ...stepStarted(1), shardCount: SHARDS } as NewFlowEvent;
  await store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, []), started]);
  return flowId;
}

const shardStarted = (i: number, attempt = 1): NewFlowEvent => ({ ...stepStarted(1, attempt), shard: shard(i) }) as NewFlowEvent;
const shardFinished = (i: number): NewFlowEvent => ({ ...stepFinished(1, [], 1), shard: shard(i) }) as NewFlowEvent;
const shardFailed = (i: number): NewFlowEvent => {
  const failed = stepFailed(1, { errorClass: 'Permanent', retryCount: 0 }) as Extract<NewFlowEvent, { type: 'StepFailed' }>;
  return { ...failed, details: { ...failed.details, shard: shard(i) }, shard: shard(i) };
};
const shardRetry = (i: number): NewFlowEvent => ({
  type: 'RetryScheduled',
  ts: nextTs(),
  stepIndex: 1,
  stepId: 'score',
  retryIndex: 1,
  reason: 'manual',
  delayMs: 0,
  notBefore: new Date(0).toISOString(),
  shard: shard(i),
});

describe.each(engineStores)('shard queue on $name', { timeout: 120_000 }, ({ create }) => {
  const withStore = storeRunner(create);

  it('concurrent claimers never claim the same shard, and every open shard is claimed once', async () => {
    await withStore(async (store) => {
      const flows = [await shardedFlow(store), await shardedFlow(store)];
      for (const flowId of flows) await store.openShards(flowId, 1, SHARDS, [0, 1, 2, 3].map((index) => ({ index, due: 'now' as const })));
      const batches = await Promise.all(Array.from({ length: 5 }, (_, w) => store.claimShards(`w${w}`, { limit: 3, leaseMs: 60_000 })));
      const claimed = batches.flat().map((c) => `${c.flowId}/${c.shardIndex}`);
      expect(claimed.length).toBe(8);
      expect(new Set(claimed).size).toBe(8);
      expect(batches.flat().every((c) => c.stepIndex === 1 && c.shardCount === SHARDS)).toBe(true);
      expect(await store.claimShards('late', { limit: 10, leaseMs: 60_000 })).toEqual([]);
    });
  });

  it('claims due shards of one flow when asked, takes over expired leases, honours due times and closed rows', async () => {
    await withStore(async (store) => {
      const a = await shardedFlow(store);
      const b = await shardedFlow(store);
      await store.openShards(a, 1, SHARDS, [
        { index: 0, due: 'now' },
        { index: 1, due: { at: Date.now() + 3_600_000 } },
        { index: 2, due: 'closed' },
        { index: 3, due: 'now' },
      ]);
      await store.openShards(b, 1, SHARDS, [{ index: 0, due: 'now' }]);
      const mine = await store.claimShards('coordinator', { limit: 10, leaseMs: 150, flowId: a });
      expect(mine.map((c) => [c.flowId, c.shardIndex])).toEqual([
        [a, 0],
        [a, 3],
      ]);
      expect((await store.claimShards('other', { limit: 10, leaseMs: 60_000 })).map((c) => [c.flowId, c.shardIndex])).toEqual([[b, 0]]);
      const wake = await store.nextWakeAt();
      expect(wake).not.toBeNull();
      await waitUntil(async () => (await store.listShards(a)).every((r) => r.holder !== 'coordinator'), "the coordinator's leases to expire"); // it is gone
      expect((await store.claimShards('heir', { limit: 10, leaseMs: 60_000 })).map((c) => c.shardIndex).sort()).toEqual([0, 3]);
      expect((await store.renewWork('coordinator', { flowIds: [], items: mine }, 60_000)).items).toEqual(new Map());
      const renewed = (await store.renewWork('heir', { flowIds: [], items: mine }, 60_000)).items;
      expect([...renewed.values()]).toEqual(['running', 'running']);
      await store.releaseShard({ flowId: a, stepIndex: 1, shardIndex: 0 }, 'heir', 'now');
      await store.releaseShard({ flowId: a, stepIndex: 1, shardIndex: 3 }, 'heir', 'closed');
      await store.releaseShard({ flowId: a, stepIndex: 1, shardIndex: 3 }, 'someone-else', 'now'); // not theirs: no effect
      expect((await store.claimShards('next', { limit: 10, leaseMs: 60_000 })).map((c) => c.shardIndex)).toEqual([0]);
    });
  });

  it("closes a cancelled flow's shards with its FlowCancelled (single and batched appends); reopening or giving one back leaves them closed; holders stay visible until their lease expires", async () => {
    await withStore(async (store) => {
      const rows = async (flowId: string) => (await store.listShards(flowId)).map((r) => [r.shardIndex, r.open, r.holder]);
      const all = [0, 1, 2, 3].map((index) => ({ index, due: 'now' as const }));
      const [a, b, c] = [await shardedFlow(store), await shardedFlow(store), await shardedFlow(store)];
      for (const flowId of [a, b, c]) await store.openShards(flowId, 1, SHARDS, all);
      const [held] = await store.claimShards('w', { limit: 1, leaseMs: 60_000, flowId: a });
      await store.claimShards('brief', { limit: 1, leaseMs: 100, flowId: a });
      expect(await rows(a)).toEqual([
        [0, true, 'w'],
        [1, true, 'brief'],
        [2, true, null],
        [3, true, null],
      ]);

      await store.append(a, 4, [{ type: 'FlowCancelled', reason: null, ts: nextTs() }]);
      await waitUntil(async () => (await store.listShards(a)).every((r) => r.holder !== 'brief'), 'the brief lease to expire');
      expect(await rows(a)).toEqual([
        [0, false, 'w'], // still held: its holder's heartbeat sees the cancellation
        [1, false, null],
        [2, false, null],
        [3, false, null],
      ]);
      await store.openShards(a, 1, SHARDS, all); // a coordinator that had not seen the cancellation yet
      await store.releaseShard(held as ClaimedShard, 'w', 'now');
      expect((await store.listShards(a)).filter((r) => r.open || r.holder !== null)).toEqual([]);

      // In one batch: b is cancelled, c only moves on; c's shards stay due.
      const outcomes = await store.appendBatch([
        { flowId: b, expectedVersion: 4, events: [{ type: 'FlowCancelled', reason: null, ts: nextTs() }] },
        { flowId: c, expectedVersion: 4, events: [shardStarted(0)] },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
      expect((await store.listShards(b)).some((r) => r.open)).toBe(false);
      expect((await store.listShards(c)).every((r) => r.open)).toBe(true);
      expect((await store.claimShards('w', { limit: 10, leaseMs: 60_000 })).map((s) => s.flowId)).toEqual([c, c, c, c]);
    });
  });

  it("keeps a flow running through its shards' events; a shard failed for good fails it, a later outcome does not revive it, a retry does", async () => {
    await withStore(async (store) => {
      const flowId = await shardedFlow(store);
      const status = async () => (await store.listFlows({ limit: 10 })).find((f) => f.flowId === flowId)?.status;
      let version = 4;
      const append = async (...events: NewFlowEvent[]) => {
        await store.append(flowId, version, events);
        version += events.length;
      };
      await append(shardStarted(0), shardStarted(1), shardStarted(2));
      await append(shardFinished(0));
      expect(await status()).toBe('running');
      await store.openShards(flowId, 1, SHARDS, [{ index: 3, due: 'now' }]);
      await append(shardFailed(1));
      expect(await status()).toBe('failed');
      expect(await store.claimShards('w', { limit: 10, leaseMs: 60_000 })).toEqual([]); // a failed flow runs no shard
      expect(await store.nextWakeAt()).toBeNull(); // nor wakes an idle worker for its open shard
      expect(await store.hasOpenShards()).toBe(false);
      await append(shardFinished(2)); // in flight when its sibling failed
      expect(await status()).toBe('failed');
      const errors = await store.listErrors(flowId);
      expect(errors.map((e) => e.details.shard)).toEqual([shard(1)]);
      await append(shardRetry(1));
      expect(await status()).toBe('running');
      expect(await store.nextWakeAt()).not.toBeNull();
      expect(await store.hasOpenShards()).toBe(true);
      expect((await store.claimShards('w', { limit: 10, leaseMs: 60_000 })).map((c) => c.shardIndex)).toEqual([3]);
      expect(await store.hasOpenShards()).toBe(true); // claimed, not finished
      await store.releaseShard({ flowId, stepIndex: 1, shardIndex: 3 }, 'w', 'closed');
      expect(await store.hasOpenShards()).toBe(false);
    });
  });

  it("publishes a graph's whole steps as items: claimable while the flow is pending between steps, by kind, renewed, released, taken over once expired, closed by a cancel", async () => {
    await withStore(async (store) => {
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized()]); // pending: no step started yet
      const other = await shardedFlow(store);
      await store.openShards(other, 1, SHARDS, [{ index: 0, due: 'now' }]);
      await store.openSteps(flowId, [
        { index: 0, due: 'now' },
        { index: 2, due: 'now' },
        { index: 1, due: { at: Date.now() + 3_600_000 } },
      ]);
      expect((await store.listShards(flowId)).map((r) => [r.kind, r.stepIndex, r.shardIndex, r.open, r.holder])).toEqual([
        ['step', 0, 0, true, null],
        ['step', 1, 0, true, null],
        ['step', 2, 0, true, null],
      ]);
      expect(await store.hasOpenShards()).toBe(true);

      // By kind: a coordinator's claim of its flow's steps takes no shard, and the other way round.
      expect(await store.claimShards('c', { limit: 10, leaseMs: 60_000, flowId: other, kind: 'step' })).toEqual([]);
      const concurrent = await Promise.all(['a', 'b', 'c'].map((w) => store.claimShards(w, { limit: 1, leaseMs: 60_000, kind: 'step' })));
      const steps = concurrent.flat();
      expect(steps.map((c) => [c.kind, c.flowId, c.stepIndex, c.shardIndex, c.shardCount]).sort()).toEqual([
        ['step', flowId, 0, 0, 1],
        ['step', flowId, 2, 0, 1],
      ]);
      const byStep = new Map(concurrent.flatMap((claimed, i) => claimed.map((c) => [c.stepIndex, { claim: c, owner: ['a', 'b', 'c'][i] as string }])));
      expect((await store.claimShards('late', { limit: 10, leaseMs: 60_000 })).map((c) => [c.kind, c.flowId])).toEqual([['shard', other]]);

      // Renewed by the same heartbeat statement as shards, with the flow's status; not by someone else.
      const first = byStep.get(0);
      const second = byStep.get(2);
      if (first === undefined || second === undefined) throw new Error('both steps claimed');
      expect([...(await store.renewWork(first.owner, { flowIds: [], items: [first.claim] }, 60_000)).items.values()]).toEqual(['pending']);
      expect((await store.renewWork('intruder', { flowIds: [], items: [first.claim] }, 60_000)).items).toEqual(new Map());

      // A holder that stops renewing: its item is claimable once the lease expires, never before.
      await store.releaseShard(second.claim, second.owner, 'now');
      const brief = await store.claimShards('brief', { limit: 1, leaseMs: 150, flowId, kind: 'step' });
      expect(brief.map((c) => c.stepIndex)).toEqual([2]);
      expect(await store.claimShards('heir', { limit: 10, leaseMs: 60_000, flowId })).toEqual([]);
      await waitUntil(async () => (await store.listShards(flowId)).every((r) => r.holder !== 'brief'), 'the brief lease to expire');
      expect((await store.claimShards('heir', { limit: 10, leaseMs: 60_000, flowId })).map((c) => [c.kind, c.stepIndex])).toEqual([['step', 2]]);
      expect((await store.renewWork('brief', { flowIds: [], items: brief }, 60_000)).items).toEqual(new Map());

      // Released closed: done. Published again (a retried step): open again, the same row.
      await store.releaseShard(first.claim, first.owner, 'closed');
      expect((await store.listShards(flowId)).find((r) => r.stepIndex === 0)?.open).toBe(false);
      await store.openSteps(flowId, [{ index: 0, due: 'now' }]);
      expect((await store.listShards(flowId)).filter((r) => r.stepIndex === 0).map((r) => [r.kind, r.open])).toEqual([['step', true]]);

      // A cancel closes the flow's step items with its FlowCancelled; a holder stays visible.
      await store.append(flowId, 1, [{ type: 'FlowCancelled', reason: null, ts: nextTs() }]);
      expect((await store.listShards(flowId)).map((r) => [r.stepIndex, r.open, r.holder])).toEqual([
        [0, false, null],
        [1, false, null],
        [2, false, 'heir'],
      ]);
      await store.openSteps(flowId, [{ index: 1, due: 'now' }]);
      expect((await store.listShards(flowId)).some((r) => r.open)).toBe(false);
      expect(await store.claimShards('w', { limit: 10, leaseMs: 60_000, flowId })).toEqual([]);
      expect([...(await store.renewWork('heir', { flowIds: [], items: [{ flowId, stepIndex: 2, shardIndex: 0 }] }, 60_000)).items.values()]).toEqual(['cancelled']);
    });
  });

  it('claims the items of a flow that is pending, running or waiting, and of no ended flow', async () => {
    await withStore(async (store) => {
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [])]); // pending
      await store.openSteps(flowId, [{ index: 1, due: 'now' }]);
      expect(await store.nextWakeAt()).not.toBeNull();
      const [claimed] = await store.claimShards('w', { limit: 1, leaseMs: 60_000 });
      expect(claimed?.kind).toBe('step');
      await store.releaseShard({ flowId, stepIndex: 1, shardIndex: 0 }, 'w', 'now');
      await store.append(flowId, 3, [stepStarted(1), stepFailed(1, { errorClass: 'Permanent', retryCount: 0 })]); // failed
      expect(await store.claimShards('w', { limit: 1, leaseMs: 60_000 })).toEqual([]);
      expect(await store.hasOpenShards()).toBe(false);
    });
  });
});
