// A worker listens for wake-ups (NOTIFY on PostgreSQL) on a connection of its own, which takes a while
// to set up: its first claims do not wait for it, and nothing made claimable meanwhile is slept over.
import { describe, expect, it } from 'vitest';
import { defineFlow, FlowEngine, FlowWorker, type FlowWorkerOptions, type WorkerOutcome } from '../../src/index.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';
import { waitUntil } from '../support/wait-until.js';

/** Holds the store's `subscribe` back until `open()`; `asked` tells whether the worker asked for it. */
function gateSubscribe(store: FlowStore): { open(): void; readonly asked: boolean } {
  let open = (): void => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let asked = false;
  const subscribe = store.subscribe.bind(store);
  store.subscribe = async (listener) => {
    asked = true;
    await gate;
    return subscribe(listener);
  };
  return {
    open: () => open(),
    get asked() {
      return asked;
    },
  };
}

/**
 * A worker running on `store`, whose `subscribe` is held back until `end()` or `gate.open()`: it counts
 * its claims and keeps its outcomes; `end()` lets it listen, stops it and waits for it.
 */
function gatedWorker(store: FlowStore, options: Omit<FlowWorkerOptions, 'store' | 'onOutcome'>) {
  const gate = gateSubscribe(store);
  let claims = 0;
  const claimWork = store.claimWork.bind(store);
  store.claimWork = (...args) => ((claims += 1), claimWork(...args));
  const outcomes: WorkerOutcome[] = [];
  const stop = new AbortController();
  const running = new FlowWorker({ ...options, store, onOutcome: (o) => outcomes.push(o) }).run({ signal: stop.signal });
  return {
    gate,
    outcomes,
    get claims() {
      return claims;
    },
    async end(): Promise<void> {
      gate.open();
      stop.abort();
      await running;
    },
  };
}

describe.each(engineStores)('a worker setting up its wake-ups on $name', ({ create }) => {
  const withStore = storeRunner(create);
  const definition = defineFlow('listening', [seedStep(), sinkStep()]);

  it('claims and runs flows before it listens', async () => {
    await withStore(async (store) => {
      const flowId = await new FlowEngine({ store }).startFlow(definition);
      const worker = gatedWorker(store, { resolve: () => Promise.resolve({ definition }) });
      try {
        await waitUntil(() => worker.outcomes.length > 0, 'the flow to end while the worker could not listen yet', 20_000);
        expect(worker.gate.asked).toBe(true);
        expect(worker.outcomes).toMatchObject([{ kind: 'completed', flowId }]);
      } finally {
        await worker.end();
      }
    });
  });

  it('looks again once it listens, so a flow submitted before then is run without waiting for a poll', async () => {
    await withStore(async (store) => {
      // A poll far beyond the wait below: only a look after listening can find the flow in time.
      const worker = gatedWorker(store, { resolve: () => Promise.resolve({ definition }), pollMs: 600_000 });
      try {
        await waitUntil(() => worker.claims > 0, 'the worker\'s first claim', 20_000);
        // Its wake-up is lost: nobody listens yet.
        const flowId = await new FlowEngine({ store }).startFlow(definition);
        worker.gate.open();
        await waitUntil(() => worker.outcomes.length > 0, 'the flow submitted before the worker listened to be run', 20_000);
        expect(worker.outcomes).toMatchObject([{ kind: 'completed', flowId }]);
      } finally {
        await worker.end();
      }
    });
  });

  it('looks again once it listens when a slot is free while another flow runs', async () => {
    await withStore(async (store) => {
      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      let held: string | undefined;
      // The first flow's step waits for the test: the worker runs it in one slot and has one more.
      const holding = defineFlow('holding', [
        {
          ...seedStep(),
          run: async (ctx) => {
            if (held === undefined || held === ctx.flowId) {
              held = ctx.flowId;
              await released;
            }
            return seedStep().run(ctx);
          },
        },
      ]);
      const engine = new FlowEngine({ store });
      const first = await engine.startFlow(holding);
      const worker = gatedWorker(store, { concurrency: 2, resolve: () => Promise.resolve({ definition: holding }), pollMs: 600_000 });
      try {
        // The first flow claimed and running, then a claim that found nothing for the free slot.
        await waitUntil(() => held === first && worker.claims >= 2, 'the first flow to run and a claim for the other slot', 20_000);
        const second = await engine.startFlow(holding);
        worker.gate.open();
        await waitUntil(() => worker.outcomes.length > 0, 'the flow submitted before the worker listened to be run beside the first', 20_000);
        expect(worker.outcomes).toMatchObject([{ kind: 'completed', flowId: second }]);
      } finally {
        release();
        await worker.end();
      }
    });
  });
});
