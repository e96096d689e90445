// The engine's appends go through a group committer: flows driven at the same time share commits.
import { describe, expect, it } from 'vitest';
import { FlowEngine, FlowWorker, MemoryFlowStore, type AppendRequest, type FlowStore } from '../../src/index.js';
import { demoFlow } from '../support/demo-flow.js';

/** A real memory store whose batched appends are recorded by size. */
function recordingBatches(store: FlowStore): { store: FlowStore; batches: number[] } {
  const batches: number[] = [];
  const recorded = new Proxy(store, {
    get(target, key) {
      if (key === 'appendBatch') return (requests: readonly AppendRequest[]) => (batches.push(requests.length), target.appendBatch(requests));
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: recorded, batches };
}

describe('group commit in the engine and the worker', () => {
  it('one engine driving 8 flows at once commits their appends together, and every flow completes', async () => {
    const { store, batches } = recordingBatches(new MemoryFlowStore());
    const engine = new FlowEngine({ store, retryPolicy: { maxRetries: 3, backoff: { kind: 'none' } } });
    const flows = await Promise.all(Array.from({ length: 8 }, async () => engine.runToEnd(await engine.start(demoFlow(), { leased: true }))));
    expect(flows.every((f) => f.status === 'completed')).toBe(true);
    expect(Math.max(...batches)).toBeGreaterThan(1);
    const lone = await engine.runToEnd(await engine.start(demoFlow(), { leased: true }));
    expect(lone.status).toBe('completed');
  });

  it('a worker shares one committer between the flows it runs at the same time', async () => {
    const { store, batches } = recordingBatches(new MemoryFlowStore());
    const definition = demoFlow();
    const starter = new FlowEngine({ store });
    for (let i = 0; i < 6; i++) await starter.startFlow(definition);
    const worker = new FlowWorker({ store, concurrency: 6, resolve: () => Promise.resolve({ definition }) });
    const outcomes = await worker.run({ untilIdle: true });
    expect(outcomes.filter((o) => o.kind === 'completed')).toHaveLength(6);
    expect(Math.max(...batches)).toBeGreaterThan(1);
  });
});
