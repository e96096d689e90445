// GroupCommitter on the memory store: batching, per-caller outcomes, per-flow order, batch size.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConcurrencyError } from '../../src/core/errors.js';
import { GroupCommitter } from '../../src/runtime/group-commit.js';
import type { AppendOutcome, AppendRequest } from '../../src/stores/flow-store.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { flowInitialized, stepStarted } from '../helpers/events.js';

/**
 * A memory store whose batches take as long as the test says (a commit in flight), and that records
 * the size of each batch. Nothing is faked: the appends themselves are the memory store's.
 */
class SlowCommitStore extends MemoryFlowStore {
  readonly batchSizes: number[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  failNext: Error | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  override async appendBatch(requests: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    this.batchSizes.push(requests.length);
    await this.gate;
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure !== undefined) throw failure;
    return super.appendBatch(requests);
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommitter', () => {
  it('sends a lone append at once, alone, and returns what the store returns', async () => {
    const store = new SlowCommitStore();
    const committer = new GroupCommitter(store);
    const flowId = randomUUID();
    const result = await committer.append(flowId, 0, [flowInitialized(), stepStarted(0)]);
    expect(result.version).toBe(2);
    expect(result.events).toEqual(await store.list(flowId));
    expect(store.batchSizes).toEqual([]); // alone: the store's own append, not a batch of one
    expect(committer.stats).toEqual({ batches: 1, appends: 1, largestBatch: 1 });
  });

  it('batches the appends made together, and those made while a batch is in flight go together next', async () => {
    const store = new SlowCommitStore();
    const committer = new GroupCommitter(store);
    const flows = Array.from({ length: 5 }, () => randomUUID());
    store.hold();
    const first = flows.slice(0, 2).map((id) => committer.append(id, 0, [flowInitialized()]));
    await turn();
    expect(store.batchSizes).toEqual([2]); // in flight, held
    const second = flows.slice(2).map((id) => committer.append(id, 0, [flowInitialized()]));
    await turn();
    expect(store.batchSizes).toEqual([2]); // the three wait for the batch in flight
    store.release();
    expect((await Promise.all([...first, ...second])).map((r) => r.version)).toEqual([1, 1, 1, 1, 1]);
    expect(store.batchSizes).toEqual([2, 3]);
  });

  it('rejects only the caller whose version is stale, with its own ConcurrencyError', async () => {
    const store = new SlowCommitStore();
    const committer = new GroupCommitter(store);
    const [a, stale, b] = [randomUUID(), randomUUID(), randomUUID()];
    await store.append(stale, 0, [flowInitialized(), stepStarted(0)]);
    const results = await Promise.allSettled([
      committer.append(a, 0, [flowInitialized()]),
      committer.append(stale, 1, [stepStarted(0, 2)]),
      committer.append(b, 0, [flowInitialized()]),
    ]);
    expect(store.batchSizes).toEqual([3]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const rejected = results[1] as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConcurrencyError);
    expect(rejected.reason).toMatchObject({ flowId: stale, expectedVersion: 1 });
    expect((await store.list(a)).length + (await store.list(b)).length).toBe(2);
  });

  it("keeps each flow's appends in the order made, even when the next is made before the previous settled", async () => {
    const store = new SlowCommitStore();
    const committer = new GroupCommitter(store, { maxBatchSize: 3 });
    const flows = [randomUUID(), randomUUID()];
    const pending = flows.flatMap((id) => [
      committer.append(id, 0, [flowInitialized()]),
      committer.append(id, 1, [stepStarted(0)]),
      committer.append(id, 2, [stepStarted(0, 2)]),
    ]);
    expect((await Promise.all(pending)).map((r) => r.version)).toEqual([1, 2, 3, 1, 2, 3]);
    expect(store.batchSizes).toEqual([3, 3]);
    for (const id of flows) expect((await store.list(id)).map((e) => e.type)).toEqual(['FlowInitialized', 'StepStarted', 'StepStarted']);
  });

  it('gathers flows that append step after step concurrently into shared batches', async () => {
    const store = new SlowCommitStore();
    const committer = new GroupCommitter(store);
    const flows = Array.from({ length: 8 }, () => randomUUID());
    const runFlow = async (id: string): Promise<void> => {
      let version = (await committer.append(id, 0, [flowInitialized()])).version;
      for (let step = 0; step < 10; step++) version = (await committer.append(id, version, [stepStarted(0, step + 1)])).version;
    };
    await Promise.all(flows.map(runFlow));
    for (const id of flows) expect((await store.list(id)).map((e) => e.version)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(committer.stats.appends).toBe(88);
    // Lockstep flows share every commit: far fewer batches than appends.
    expect(committer.stats.batches).toBeLessThanOrEqual(22);
    expect(committer.stats.largestBatch).toBe(8);
  });

  it('lets the event loop turn between the lone appends of a store that answers at once', async () => {
    const committer = new GroupCommitter(new MemoryFlowStore());
    const flowId = randomUUID();
    let turned = false;
    setImmediate(() => (turned = true));
    let version = (await committer.append(flowId, 0, [flowInitialized()])).version;
    let appends = 1;
    while (!turned && appends < 100) {
      version = (await committer.append(flowId, version, [stepStarted(0, version)])).version;
      appends++;
    }
    // Without a turn, the appends would go on in one run of microtasks and the immediate wait for all.
    expect(turned).toBe(true);
    expect(appends).toBeLessThanOrEqual(3);
  });

  it('sends at most maxBatchSize appends per batch, the rest in the batches after', async () => {
    const store = new SlowCommitStore();
    const committer = new GroupCommitter(store, { maxBatchSize: 4 });
    await Promise.all(Array.from({ length: 10 }, () => committer.append(randomUUID(), 0, [flowInitialized()])));
    expect(store.batchSizes).toEqual([4, 4, 2]);
  });

  it('rejects every caller of a batch the store fails as a whole, and goes on with the next', async () => {
    const store = new SlowCommitStore();
    const committer = new GroupCommitter(store);
    const lost = new Error('connection lost');
    store.failNext = lost;
    const results = await Promise.allSettled([randomUUID(), randomUUID()].map((id) => committer.append(id, 0, [flowInitialized()])));
    expect(results).toEqual([
      { status: 'rejected', reason: lost },
      { status: 'rejected', reason: lost },
    ]);
    expect((await committer.append(randomUUID(), 0, [flowInitialized()])).version).toBe(1);
    await committer.drain();
    expect(store.batchSizes).toEqual([2]); // the lone append after it went as a plain append
  });
});
