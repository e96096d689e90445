import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { LeaseLostError } from '../../src/core/error-class.js';
import { FlowLeasedError } from '../../src/core/errors.js';
import { MemoryFlowStore } from '../../src/index.js';
import { isDeadLocalOwner, LeaseKeeper } from '../../src/runtime/lease-keeper.js';
import { ShardLeaseKeeper } from '../../src/runtime/shard-leases.js';
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
    const renew = store.renewLeases.bind(store);
    store.renewLeases = (...args) => (away ? Promise.reject(new Error('connection refused')) : renew(...args));

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

  it("renews the flow leases and the work-item leases of a process on one timer, one statement per kind and tick", async () => {
    const store = new MemoryFlowStore();
    const clock = new ManualClock();
    const flows = new LeaseKeeper({ store, clock, leaseMs: 30_000, heartbeatMs: 10_000 });
    const items = new ShardLeaseKeeper(store, flows.owner, flows.leaseMs, flows.heartbeatMs, undefined, clock, flows.beat);
    const [coordinated, other] = [randomUUID(), randomUUID()];
    for (const flowId of [coordinated, other]) await store.append(flowId, 0, [flowInitialized()]);
    const statements: string[] = [];
    const renewFlows = store.renewLeases.bind(store);
    const renewItems = store.renewShardLeases.bind(store);
    store.renewLeases = (...args) => (statements.push(`flows ${args[1].length}`), renewFlows(...args));
    store.renewShardLeases = (...args) => (statements.push(`items ${args[1].length}`), renewItems(...args));

    const lease = await flows.acquire(coordinated);
    await store.openSteps(other, [
      { index: 0, due: 'now' },
      { index: 1, due: 'now' },
    ]);
    const claimed = await items.claim(2);
    expect(claimed.map((c) => c.kind)).toEqual(['step', 'step']);
    expect(clock.timerCount).toBe(1); // one heartbeat for both kinds
    clock.advance(10_000);
    await settle();
    expect(statements.sort()).toEqual(['flows 1', 'items 2']);
    expect((await store.listShards(other)).map((r) => r.holder)).toEqual([flows.owner, flows.owner]);

    await flows.release(lease);
    expect(clock.timerCount).toBe(1); // the items still beat
    clock.advance(10_000);
    await settle();
    expect(statements.sort()).toEqual(['flows 1', 'items 2', 'items 2']);
    for (const item of claimed) await items.release(item, 'closed');
    expect(clock.timerCount).toBe(0);
  });
});
