// The worker's one queue (claimWork, renewWork), on every store: one claim takes due flows first and
// due work items with what is left of its limit, never what another claimer took; one renewal extends
// both kinds of lease; a graph step or shard of a failed flow whose holder's lease expired is claimable
// (its lost attempt has to be recorded), no other item of an ended flow is; a flow given back until a
// retry's time is not claimable before it, unless its log moves on.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { shardKeyText } from '../../src/stores/shard-queue.js';
import { flowInitialized, stepFailed, stepFinished, stepStarted } from '../helpers/events.js';
import { engineStores, storeRunner } from '../support/stores.js';
import { waitUntil } from '../support/wait-until.js';

const LEASE = 60_000;

/** A flow held by `coordinator` with `steps` step items due now. */
async function graphFlow(store: FlowStore, steps: number, coordinator = 'coordinator'): Promise<string> {
  const flowId = randomUUID();
  await store.append(flowId, 0, [flowInitialized()]);
  await store.acquireLease(flowId, coordinator, LEASE);
  await store.openSteps(flowId, Array.from({ length: steps }, (_, index) => ({ index, due: 'now' as const })));
  return flowId;
}

describe.each(engineStores)('work queue on $name', { timeout: 120_000 }, ({ create }) => {
  const withStore = storeRunner(create);

  it('claims due flows first, with their events, then work items up to what is left of the limit', async () => {
    await withStore(async (store) => {
      const due: string[] = [randomUUID(), randomUUID()];
      for (const flowId of due) await store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [])]);
      const graph = await graphFlow(store, 3);

      const first = await store.claimWork('w', { limit: 3, leaseMs: LEASE, events: true });
      expect(first.flows.map((f) => f.flowId).sort()).toEqual([...due].sort());
      expect(first.flows.map((f) => [f.status, f.version, f.events?.map((e) => e.type)])).toEqual([
        ['pending', 3, ['FlowInitialized', 'StepStarted', 'StepFinished']],
        ['pending', 3, ['FlowInitialized', 'StepStarted', 'StepFinished']],
      ]);
      expect(first.items.map((i) => [i.flowId, i.stepIndex, i.kind])).toEqual([[graph, 0, 'step']]);

      const second = await store.claimWork('v', { limit: 5, leaseMs: LEASE });
      expect(second.flows).toEqual([]);
      expect(second.items.map((i) => i.stepIndex).sort()).toEqual([1, 2]);
      expect(await store.claimWork('x', { limit: 5, leaseMs: LEASE })).toEqual({ flows: [], items: [] });
      expect(await store.claimWork('x', { limit: 0, leaseMs: LEASE })).toEqual({ flows: [], items: [] });
      const rows = await store.listFlows({ status: ['pending'] });
      expect(rows.filter((r) => due.includes(r.flowId)).map((r) => r.leaseOwner)).toEqual(['w', 'w']);
    });
  });

  it('passes over the flows and steps it is told to skip; without events a flow comes alone', async () => {
    await withStore(async (store) => {
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized()]);
      const graph = await graphFlow(store, 2);
      const skipped = await store.claimWork('w', {
        limit: 5,
        leaseMs: LEASE,
        skipFlows: [{ flowId, version: 1 }],
        skipSteps: [{ flowId: graph, stepIndex: 0 }],
      });
      expect([skipped.flows, skipped.items.map((i) => i.stepIndex)]).toEqual([[], [1]]);
      // A skip at another version than the row's does not apply.
      const moved = await store.claimWork('w', { limit: 5, leaseMs: LEASE, skipFlows: [{ flowId, version: 7 }] });
      expect(moved.flows).toEqual([{ flowId, status: 'pending', version: 1 }]);
      expect(moved.items.map((i) => i.stepIndex)).toEqual([0]);
    });
  });

  it('concurrent claimers never take the same flow or item, and every due one is taken once', async () => {
    await withStore(async (store) => {
      const flows: string[] = [];
      for (let i = 0; i < 4; i++) {
        const flowId = randomUUID();
        await store.append(flowId, 0, [flowInitialized()]);
        flows.push(flowId);
      }
      const graphs = [await graphFlow(store, 3), await graphFlow(store, 3)];
      const batches = await Promise.all(Array.from({ length: 5 }, (_, w) => store.claimWork(`w${w}`, { limit: 3, leaseMs: LEASE, events: true })));
      const claimedFlows = batches.flatMap((b) => b.flows.map((f) => f.flowId));
      const claimedItems = batches.flatMap((b) => b.items.map((i) => shardKeyText(i)));
      expect(claimedFlows.sort()).toEqual([...flows].sort());
      expect(claimedItems.length).toBe(6);
      expect(new Set(claimedItems).size).toBe(6);
      expect(new Set(batches.flatMap((b) => b.items.map((i) => i.flowId)))).toEqual(new Set(graphs));
      expect(batches.every((b) => b.flows.length + b.items.length <= 3)).toBe(true);
    });
  });

  it('renews flow leases and item leases in one call, with their flows\' statuses; lost ones are absent', async () => {
    await withStore(async (store) => {
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized()]);
      const graph = await graphFlow(store, 2);
      const claimed = await store.claimWork('w', { limit: 3, leaseMs: LEASE });
      expect(claimed.flows.map((f) => f.flowId)).toEqual([flowId]);
      const renewed = await store.renewWork('w', { flowIds: [flowId, graph], items: claimed.items }, LEASE);
      expect(renewed.flows).toEqual(new Map([[flowId, 'pending']])); // the graph's flow is the coordinator's
      expect(renewed.items).toEqual(new Map(claimed.items.map((i) => [shardKeyText(i), 'pending'])));
      expect(await store.renewWork('intruder', { flowIds: [flowId], items: claimed.items }, LEASE)).toEqual({ flows: new Map(), items: new Map() });
      expect(await store.renewWork('w', { flowIds: [], items: [] }, LEASE)).toEqual({ flows: new Map(), items: new Map() });
      await store.append(graph, 1, [{ type: 'FlowCancelled', reason: null, ts: new Date().toISOString() }]);
      const after = await store.renewWork('w', { flowIds: [flowId], items: claimed.items }, LEASE);
      expect([...after.items.values()]).toEqual(['cancelled', 'cancelled']);
    });
  });

  it("claims a failed flow's graph step or shard once its holder's lease expired; never an item of it given back or never claimed", async () => {
    await withStore(async (store) => {
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized()]);
      await store.openSteps(flowId, [0, 1, 2].map((index) => ({ index, due: 'now' as const })));
      const held = await store.claimShards('mortal', { limit: 1, leaseMs: 150, flowId, kind: 'step' }); // step 0
      const done = await store.claimShards('w', { limit: 1, leaseMs: LEASE, flowId, kind: 'step' }); // step 1
      expect([held.map((i) => i.stepIndex), done.map((i) => i.stepIndex)]).toEqual([[0], [1]]);
      await store.append(flowId, 1, [stepStarted(0), stepStarted(1), stepFailed(1, { errorClass: 'Permanent', retryCount: 0 })]);
      await store.releaseShard({ flowId, stepIndex: 1, shardIndex: 0 }, 'w', 'closed');
      expect((await store.listFlows()).find((f) => f.flowId === flowId)?.status).toBe('failed');
      expect(await store.claimWork('heir', { limit: 5, leaseMs: LEASE })).toEqual({ flows: [], items: [] }); // still held
      expect(await store.hasOpenShards()).toBe(true);
      await waitUntil(async () => (await store.listShards(flowId)).every((r) => r.holder !== 'mortal'), "the holder's lease to expire");
      const heir = await store.claimWork('heir', { limit: 5, leaseMs: LEASE });
      expect(heir.items.map((i) => [i.stepIndex, i.kind])).toEqual([[0, 'step']]); // step 2, never claimed, stays
      await store.releaseShard({ flowId, stepIndex: 0, shardIndex: 0 }, 'heir', 'closed');
      expect(await store.claimWork('heir', { limit: 5, leaseMs: LEASE })).toEqual({ flows: [], items: [] });
      expect(await store.hasOpenShards()).toBe(false);

      // So is a shard of a failed flow that someone held; one never claimed is not.
      const mapped = randomUUID();
      await store.append(mapped, 0, [flowInitialized(), { ...stepStarted(0), shardCount: 2 } as never]);
      await store.openShards(mapped, 0, 2, [0, 1].map((index) => ({ index, due: 'now' as const })));
      expect((await store.claimShards('mortal', { limit: 1, leaseMs: 150, flowId: mapped })).map((i) => i.shardIndex)).toEqual([0]);
      await store.append(mapped, 2, [stepFailed(0, { errorClass: 'Permanent', retryCount: 0 })]);
      expect((await store.listFlows()).find((f) => f.flowId === mapped)?.status).toBe('failed');
      await waitUntil(async () => (await store.listShards(mapped)).every((r) => r.holder === null), "the shard's lease to expire");
      const shardHeir = await store.claimWork('heir', { limit: 5, leaseMs: LEASE });
      expect(shardHeir.items.map((i) => [i.flowId, i.shardIndex, i.kind])).toEqual([[mapped, 0, 'shard']]);
      await store.releaseShard({ flowId: mapped, stepIndex: 0, shardIndex: 0 }, 'heir', 'closed');
      expect(await store.claimWork('heir', { limit: 5, leaseMs: LEASE })).toEqual({ flows: [], items: [] });
    });
  });

  it('a flow given back until a time is not claimable before it while its log stays; an append makes it due at once', async () => {
    await withStore(async (store) => {
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [])]);
      const later = Date.now() + 3_600_000;
      const claim = async () => (await store.claimWork('w', { limit: 1, leaseMs: LEASE })).flows.map((f) => f.flowId);

      expect(await claim()).toEqual([flowId]);
      await store.releaseLease(flowId, 'w', { at: later, version: 2 }); // another version: due as it was
      expect(await claim()).toEqual([flowId]);
      await store.releaseLease(flowId, 'w', { at: later, version: 3 });
      expect(await claim()).toEqual([]);
      const wake = await store.nextWakeAt();
      expect(wake).not.toBeNull();
      expect(Math.abs((wake ?? 0) - later)).toBeLessThan(60_000);

      await store.append(flowId, 3, [stepStarted(1), stepFinished(1, [])]); // the log moves on: due now
      expect(await claim()).toEqual([flowId]);
      const row = (await store.listFlows()).find((f) => f.flowId === flowId);
      expect(Date.parse(row?.nextDueAt ?? '')).toBeLessThanOrEqual(Date.now());
    });
  });
});
