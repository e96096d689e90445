import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { FlowLeasedError } from '../../src/core/errors.js';
import { isDeadLocalOwner, LeaseKeeper } from '../../src/runtime/lease-keeper.js';
import { flowInitialized } from '../helpers/events.js';
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
