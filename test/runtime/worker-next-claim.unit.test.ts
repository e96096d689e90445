// A worker with one slot claims its next flow while the last one's completing append is on its way,
// not after it: the claim and the commit overlap, and the slot is not taken twice otherwise.
import { describe, expect, it } from 'vitest';
import { defineFlow, FlowEngine, FlowWorker, type NewFlowEvent } from '../../src/index.js';
import { seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';
import { waitUntil } from '../support/wait-until.js';

describe.each(engineStores)('the next claim of a worker on $name', { timeout: 120_000 }, ({ create }) => {
  const withStore = storeRunner(create);

  it('goes out while the completing append of the flow before is held back, for one slot', async () => {
    await withStore(async (store) => {
      const definition = defineFlow('next-claim', [seedStep(), sinkStep()]);
      const engine = new FlowEngine({ store });
      const flows = [await engine.startFlow(definition), await engine.startFlow(definition), await engine.startFlow(definition)];
      // The first completing append (alone, or in a batch with the next flow's first) waits for the test.
      let open: () => void = () => undefined;
      const opened = new Promise<void>((resolve) => (open = resolve));
      let held = false;
      let settled = false;
      const holdIfCompleting = async (events: readonly NewFlowEvent[]): Promise<boolean> => {
        if (held || !events.some((e) => e.type === 'FlowCompleted')) return false;
        held = true;
        await opened;
        return true;
      };
      const append = store.append.bind(store);
      store.append = async (flowId, expectedVersion, events, options) => {
        const holding = await holdIfCompleting(events);
        const result = await append(flowId, expectedVersion, events, options);
        settled ||= holding;
        return result;
      };
      const appendBatch = store.appendBatch.bind(store);
      store.appendBatch = async (requests) => {
        const holding = await holdIfCompleting(requests.flatMap((r) => r.events));
        const outcomes = await appendBatch(requests);
        settled ||= holding;
        return outcomes;
      };
      const limits: number[] = [];
      const claimWork = store.claimWork.bind(store);
      store.claimWork = async (owner, options) => {
        const claimed = await claimWork(owner, options);
        if (claimed.flows.length > 0) limits.push(options.limit);
        return claimed;
      };
      const worker = new FlowWorker({ store, resolve: () => Promise.resolve({ definition }), pollMs: 20 });
      const run = worker.run({ untilIdle: true });
      await waitUntil(() => held && limits.length === 2, 'the second claim while the first flow’s completing append is held', 30_000);
      expect(settled).toBe(false);
      open();
      const outcomes = await run;
      expect(outcomes.map((o) => o.kind)).toEqual(['completed', 'completed', 'completed']);
      expect(new Set(outcomes.map((o) => o.flowId))).toEqual(new Set(flows));
      // Every claim was of one flow, for the one slot.
      expect(limits).toEqual([1, 1, 1]);
    });
  });
});
