import { describe, expect, it } from 'vitest';
import { defineFlow, FlowEngine, FlowWorker, type FlowDefinition, type FlowResolver, type StepDefinition } from '../../src/index.js';
import type { StepResources } from '../../src/core/resources.js';
import { seedStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';

function byName(...definitions: FlowDefinition[]): FlowResolver {
  return (_flowId, initialized) => {
    const definition = definitions.find((d) => d.name === initialized.flowName);
    return definition ? Promise.resolve({ definition }) : Promise.reject(new Error(`no definition named ${initialized.flowName}`));
  };
}

/** Counts how many of its attempts run at the same time, across every flow that uses it. */
class Overlap {
  now = 0;
  max = 0;
  step(id: string, resources: StepResources | undefined, ms = 120): StepDefinition {
    return {
      id,
      kind: 'transform',
      baseParams: {},
      ...(resources === undefined ? {} : { resources }),
      run: async (ctx) => {
        this.now += 1;
        this.max = Math.max(this.max, this.now);
        await new Promise((r) => setTimeout(r, ms));
        this.now -= 1;
        return { outputs: [...ctx.input] as never };
      },
    };
  }
}

describe.each(engineStores)('a worker with resources on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('claims pass over the flows and steps a worker cannot fit: a flow until its log moves on, a step for good', async () => {
    await withStore(async (store) => {
      const flow = defineFlow('skipped', [seedStep(), new Overlap().step('work', undefined)]);
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(flow);
      const [row] = await store.listFlows({});
      const version = row?.version ?? 0;
      expect(await store.claimFlows('w', { limit: 5, leaseMs: 10_000, skip: [{ flowId, version }] })).toEqual([]);
      // Another version of the same flow is claimable: its log moved on.
      expect((await store.claimFlows('w', { limit: 5, leaseMs: 10_000, skip: [{ flowId, version: version + 1 }] })).map((c) => c.flowId)).toEqual([flowId]);
      await store.releaseLease(flowId, 'w');

      const running = await engine.start(flow, { leased: true }); // running: its shards may be claimed
      await store.openShards(running.flowId, 1, 2, [
        { index: 0, due: 'now' },
        { index: 1, due: 'now' },
      ]);
      expect(await store.claimShards('w', { limit: 5, leaseMs: 10_000, skipSteps: [{ flowId: running.flowId, stepIndex: 1 }] })).toEqual([]);
      expect(await store.claimShards('w', { limit: 5, leaseMs: 10_000, skipSteps: [{ flowId: running.flowId, stepIndex: 0 }] })).toHaveLength(2);
    });
  });

  it('runs at once only the attempts that fit its cores, and keeps claiming while it has some free', async () => {
    await withStore(async (store) => {
      const overlap = new Overlap();
      const flow = defineFlow('sized', [seedStep(), overlap.step('work', { cpus: 1, memoryMb: 100 })]);
      const engine = new FlowEngine({ store });
      for (let i = 0; i < 4; i += 1) await engine.startFlow(flow);
      const worker = new FlowWorker({ store, resolve: byName(flow), concurrency: 4, resources: { cpus: 2, memoryMb: 1000 }, pollMs: 50 });
      const outcomes = await worker.run({ untilIdle: true });
      expect(outcomes.map((o) => o.kind)).toEqual(['completed', 'completed', 'completed', 'completed']);
      expect(overlap.max).toBe(2);
    });
  });

  it('runs steps without resources by the concurrency rules alone, as without a capacity', async () => {
    await withStore(async (store) => {
      const overlap = new Overlap();
      const flow = defineFlow('plain', [seedStep(), overlap.step('work', undefined, 600)]);
      const engine = new FlowEngine({ store });
      for (let i = 0; i < 3; i += 1) await engine.startFlow(flow);
      const worker = new FlowWorker({ store, resolve: byName(flow), concurrency: 3, resources: { cpus: 1, memoryMb: 1 }, pollMs: 50 });
      expect((await worker.run({ untilIdle: true })).map((o) => o.kind)).toEqual(['completed', 'completed', 'completed']);
      expect(overlap.max).toBe(3);
    });
  });

  it('admits the shards of a mapped step one by one against its cores', async () => {
    await withStore(async (store) => {
      for (const [cpus, expected] of [
        [1, 1],
        [2, 2],
      ] as const) {
        const overlap = new Overlap();
        const items: StepDefinition = { id: 'items', kind: 'source', baseParams: {}, run: () => ({ outputs: [{ kind: 'items', payload: { items: [1, 2, 3, 4] } }] }) };
        const mapped: StepDefinition = { ...overlap.step('each', { cpus: 1 }, 150), map: { over: 'items', shardSize: 1 } };
        const flow = defineFlow(`mapped-${cpus}`, [items, mapped]);
        await new FlowEngine({ store }).startFlow(flow);
        const worker = new FlowWorker({ store, resolve: byName(flow), concurrency: 4, resources: { cpus, memoryMb: 100 }, pollMs: 50 });
        expect((await worker.run({ untilIdle: true })).filter((o) => o.kind !== 'shard').map((o) => o.kind)).toEqual(['completed']);
        expect(overlap.max).toBe(expected);
      }
    });
  });

  it('never starts a step that needs more than it has: the flow waits, unleased, for a worker with enough', async () => {
    await withStore(async (store) => {
      const overlap = new Overlap();
      const flow = defineFlow('big', [seedStep(), overlap.step('dock', { cpus: 4 }, 5)]);
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(flow);
      const small = new FlowWorker({ store, resolve: byName(flow), resources: { cpus: 2, memoryMb: 1000 }, pollMs: 50 });
      const outcomes = await small.run({ untilIdle: true });
      expect(outcomes).toEqual([{ kind: 'unfit', flowId, stepId: 'dock', need: { cpus: 4 }, capacity: { cpus: 2, memoryMb: 1000 } }]);
      // The seed ran; the big step was never started (no StepStarted), and the lease was given back.
      const open = await engine.open(flowId, flow);
      expect(open.flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Pending']);
      expect((await store.listFlows({}))[0]).toMatchObject({ flowId, leaseOwner: null });
      // Passed over from now on: the small worker is idle at once, not spinning on it.
      expect(await small.run({ untilIdle: true })).toEqual([]);
      expect(overlap.max).toBe(0);

      const big = new FlowWorker({ store, resolve: byName(flow), resources: { cpus: 4, memoryMb: 1000 }, pollMs: 50 });
      expect((await big.run({ untilIdle: true })).map((o) => o.kind)).toEqual(['completed']);
      expect(overlap.max).toBe(1);
    });
  });
});
