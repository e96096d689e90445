import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { LeaseLostError } from '../../src/core/error-class.js';
import { FlowLeasedError } from '../../src/core/errors.js';
import { MemoryFlowStore } from '../../src/index.js';
import { isDeadLocalOwner, LeaseKeeper } from '../../src/runtime/lease-keeper.js';
import { flowInitialized } from '../helpers/events.js';
import { ManualClock } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';

/** The pid of a process of this machine that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('isDeadLocalOwner', () => {
  it('is true only for a process of this machine that is certainly gone', () => {
    expect(isDeadLocalOwner(`${hostname()}:${deadPid()}:abc`)).toBe(true);
    expect(isDeadLocalOwner(`${hostname()}:${process.pid}:abc`)).toBe(false); // this very process
    expect(isDeadLocalOwner(`${hostname()}:${process.ppid}:abc`)).toBe(false); // alive
    expect(isDeadLocalOwner(`another-host-${randomUUID()}:${deadPid()}:abc`)).toBe(false);
    expect(isDeadLocalOwner('worker-7')).toBe(false);
  });
});

describe.each(engineStores)('LeaseKeeper on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('waits for a live holder, but takes the flow of a dead local process at once', async () => {
    await withStore(async (store) => {
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized()]);
      const keeper = new LeaseKeeper({ store });
      try {
        await store.acquireLease(flowId, `${hostname()}:${process.ppid}:live`, 60_000);
        await expect(keeper.acquire(flowId)).rejects.toBeInstanceOf(FlowLeasedError);
        await store.releaseLease(flowId, `${hostname()}:${process.ppid}:live`);

        await store.acquireLease(flowId, `${hostname()}:${deadPid()}:gone`, 60_000);
        const lease = await keeper.acquire(flowId);
        expect(lease.owner).toBe(keeper.owner);
        expect((await store.listFlows()).find((f) => f.flowId === flowId)?.leaseOwner).toBe(keeper.owner);
      } finally {
        keeper.close();
      }
    });
  });
});

/** Lets the heartbeat a timer started finish its renewal (one turn of the event loop, no waiting). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('LeaseKeeper on a test clock', () => {
  it('renews every lease with one heartbeat each heartbeatMs of its clock, and stops beating when none is held', async () => {
    const store = new MemoryFlowStore();
    const clock = new ManualClock();
    const beats: [number, number][] = [];
    const keeper = new LeaseKeeper({ store, clock, leaseMs: 30_000, heartbeatMs: 10_000, onHeartbeat: (renewed, lost) => beats.push([renewed, lost]) });
    const flows = [randomUUID(), randomUUID()];
    for (const flowId of flows) await store.append(flowId, 0, [flowInitialized()]);
    const leases = [await keeper.acquire(flows[0] ?? ''), await keeper.acquire(flows[1] ?? '')];
    expect(clock.timerCount).toBe(1);
    clock.advance(9_999);
    await settle();
    expect(beats).toEqual([]);
    clock.advance(1);
    await settle();
    expect(beats).toEqual([[2, 0]]);
    clock.advance(10_000);
    await settle();
    expect(beats).toEqual([
      [2, 0],
      [2, 0],
    ]);
    for (const lease of leases) await keeper.release(lease);
    expect(clock.timerCount).toBe(0);
    expect(leases.map((l) => l.signal.aborted)).toEqual([false, false]);
  });

  it('keeps the leases through a database outage shorter than the lease, and gives them up (LeaseLostError) once it lasts a lease', async () => {
    const store = new MemoryFlowStore();
    const clock = new ManualClock();
    const beats: [number, number][] = [];
    const keeper = new LeaseKeeper({ store, clock, leaseMs: 30_000, heartbeatMs: 10_000, onHeartbeat: (renewed, lost) => beats.push([renewed, lost]) });
    const flowId = randomUUID();
    await store.append(flowId, 0, [flowInitialized()]);
    const lease = await keeper.acquire(flowId);
    let away = false;
    const renew = store.renewWork.bind(store);
    store.renewWork = (...args) => (away ? Promise.reject(new Error('connection refused')) : renew(...args));

    clock.advance(10_000); // renewed at 10 s
    await settle();
    away = true;
    for (const at of [20_000, 30_000]) {
      clock.advance(10_000); // 10 s, then 20 s since the last renewal: the lease still holds
      await settle();
      expect([at, lease.signal.aborted]).toEqual([at, false]);
    }
    clock.advance(10_000); // 30 s without a renewal: another process may take the flow now
    await settle();
    expect(lease.signal.aborted).toBe(true);
    expect(lease.signal.reason).toBeInstanceOf(LeaseLostError);
    expect(beats).toEqual([
      [1, 0],
      [0, 1],
    ]);
    expect(keeper.size).toBe(0);
    expect(clock.timerCount).toBe(0);
  });

  it('holds flow leases and work-item leases in one keeper, renewed on one timer by one statement per tick', async () => {
    const store = new MemoryFlowStore();
    const clock = new ManualClock();
    const beats: [number, number][] = [];
    const keeper = new LeaseKeeper({ store, clock, leaseMs: 30_000, heartbeatMs: 10_000, onHeartbeat: (renewed, lost) => beats.push([renewed, lost]) });
    const [coordinated, other] = [randomUUID(), randomUUID()];
    for (const flowId of [coordinated, other]) await store.append(flowId, 0, [flowInitialized()]);
    const statements: string[] = [];
    const renewWork = store.renewWork.bind(store);
    store.renewWork = (...args) => (statements.push(`flows ${args[1].flowIds.length} items ${args[1].items.length}`), renewWork(...args));

    const lease = await keeper.acquire(coordinated);
    await store.openSteps(other, [
      { index: 0, due: 'now' },
      { index: 1, due: 'now' },
    ]);
    const claimed = await keeper.claimItems(2);
    expect(claimed.map((c) => c.kind)).toEqual(['step', 'step']);
    expect(keeper.size).toBe(3);
    expect(clock.timerCount).toBe(1); // one heartbeat for both kinds
    clock.advance(10_000);
    await settle();
    expect(statements).toEqual(['flows 1 items 2']);
    expect(beats).toEqual([[3, 0]]);
    expect((await store.listShards(other)).map((r) => r.holder)).toEqual([keeper.owner, keeper.owner]);

    await keeper.release(lease);
    expect(clock.timerCount).toBe(1); // the items still beat
    clock.advance(10_000);
    await settle();
    expect(statements).toEqual(['flows 1 items 2', 'flows 0 items 2']);
    for (const item of claimed) await keeper.releaseItem(item, 'closed');
    expect(keeper.size).toBe(0);
    expect(clock.timerCount).toBe(0);
  });

  it('claims flows and work items in one claim per turn, flows first, sharing the limit', async () => {
    const store = new MemoryFlowStore();
    const clock = new ManualClock();
    const keeper = new LeaseKeeper({ store, clock, leaseMs: 30_000, heartbeatMs: 10_000 });
    const claims: string[] = [];
    const claimWork = store.claimWork.bind(store);
    store.claimWork = (...args) => (claims.push(`work ${args[1].limit}`), claimWork(...args));
    const claimShards = store.claimShards.bind(store);
    store.claimFlows = () => Promise.reject(new Error('one claim: claimWork'));
    store.claimShards = () => Promise.reject(new Error('one claim: claimWork'));
    const [due, graph] = [randomUUID(), randomUUID()];
    for (const flowId of [due, graph]) await store.append(flowId, 0, [flowInitialized()]);
    await store.acquireLease(graph, 'coordinator', 60_000);
    await store.openSteps(graph, [0, 1, 2].map((index) => ({ index, due: 'now' as const })));

    const first = await keeper.claimWork(3);
    expect(first.flows.map((c) => c.lease.flowId)).toEqual([due]);
    expect(first.flows[0]?.events?.map((e) => e.type)).toEqual(['FlowInitialized']);
    expect(first.items.map((c) => [c.flowId, c.stepIndex])).toEqual([
      [graph, 0],
      [graph, 1],
    ]);
    const second = await keeper.claimWork(3, { skipSteps: [{ flowId: graph, stepIndex: 2 }] });
    expect([second.flows.length, second.items.length]).toEqual([0, 0]);
    const third = await keeper.claimWork(3);
    expect(third.items.map((c) => c.stepIndex)).toEqual([2]);
    expect(claims).toEqual(['work 3', 'work 3', 'work 3']);
    expect(keeper.size).toBe(4);

    // A lost item lease aborts its signal; the flow lease beside it is kept.
    const lost = third.items[0];
    if (lost === undefined) throw new Error('no item claimed');
    await store.releaseShard(lost, keeper.owner, 'now');
    await claimShards('thief', { limit: 1, leaseMs: 60_000 });
    clock.advance(10_000);
    await settle();
    expect(third.items[0]?.signal.aborted).toBe(true);
    expect(first.flows[0]?.lease.signal.aborted).toBe(false);
    expect(keeper.size).toBe(3);
    keeper.close();
  });
});
