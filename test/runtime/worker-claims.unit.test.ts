// A worker's turn costs one claim statement on the databases, whatever it claims: flows to coordinate
// and work items of any flow come from the same statement, and the heartbeat is one statement too.
import { describe, expect, it } from 'vitest';
import { defineFlow, FlowEngine, FlowWorker } from '../../src/index.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';

describe.each(engineStores.filter((s) => s.name !== 'memory'))('worker claims on $name', { timeout: 120_000 }, ({ create }) => {
  const withStore = storeRunner(create);

  it('each turn of the worker loop is one claim statement over flows and work items', async () => {
    await withStore(async (store) => {
      const definition = defineFlow('claims', [seedStep(), sinkStep()]);
      const engine = new FlowEngine({ store });
      for (let i = 0; i < 3; i++) await engine.startFlow(definition);
      const executor = (store as SqlFlowStore).executor;
      const claims: string[] = [];
      const query = executor.query.bind(executor);
      executor.query = (text, values) => {
        if (text.includes('SKIP LOCKED')) claims.push(text);
        return query(text, values);
      };
      let turns = 0;
      const claimWork = store.claimWork.bind(store);
      store.claimWork = (...args) => ((turns += 1), claimWork(...args));
      const worker = new FlowWorker({ store, resolve: () => Promise.resolve({ definition }), pollMs: 20 });
      const outcomes = await worker.run({ untilIdle: true });
      expect(outcomes.map((o) => o.kind)).toEqual(['completed', 'completed', 'completed']);
      expect(turns).toBeGreaterThanOrEqual(4); // three flows, then one that finds nothing
      expect(claims.length).toBe(turns);
      expect(claims.every((text) => text.includes('UPDATE flow_queue') && text.includes('UPDATE flow_shards'))).toBe(true);
    });
  });
});
