// A claim commits without waiting for its WAL flush (a lease is a lock that expires, not history), and
// only the claim: the appends that follow on the same connection wait for theirs again.
import { describe, expect, it } from 'vitest';
import { defineFlow, FlowEngine } from '../../src/index.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { createTestSchema, pgAvailable } from '../helpers/pg.js';
import { seedStep, sinkStep } from '../support/demo-flow.js';
import { templatePgliteStore } from '../support/pglite-template.js';

/** A PostgreSQL store on ONE connection, so that the setting read after a claim is the claim's connection's. */
async function oneConnectionPostgres(): Promise<FlowStore> {
  const schema = await createTestSchema('claim_commit');
  const store = await schema.openStore({ max: 1 });
  const close = store.close.bind(store);
  return Object.assign(store, { close: async () => (await close(), await schema.drop()) });
}

const stores = [{ name: 'pglite', create: templatePgliteStore }, ...(pgAvailable ? [{ name: 'postgres', create: oneConnectionPostgres }] : [])];

describe.each(stores)('claims on $name', { timeout: 60_000 }, ({ create }) => {
  it('a claim that leases flows and items leaves synchronous_commit on for the statements after it', async () => {
    const store = await create();
    try {
      const executor = (store as SqlFlowStore).executor;
      const setting = async (): Promise<string> => ((await executor.query('SHOW synchronous_commit', []))[0] as { synchronous_commit: string }).synchronous_commit;
      expect(await setting()).toBe('on');
      const definition = defineFlow('claim-commit', [seedStep(), sinkStep()]);
      const engine = new FlowEngine({ store });
      const first = await engine.startFlow(definition);
      const second = await engine.startFlow(definition);

      const work = await store.claimWork('w1', { limit: 1, leaseMs: 30_000, events: true });
      expect(work.flows.map((f) => f.flowId)).toEqual([first]);
      expect(await setting()).toBe('on');
      const flows = await store.claimFlows('w2', { limit: 1, leaseMs: 30_000 });
      expect(flows.map((f) => f.flowId)).toEqual([second]);
      expect(await setting()).toBe('on');

      await store.openSteps(first, [{ index: 1, due: 'now' }]);
      const items = await store.claimShards('w3', { limit: 1, leaseMs: 30_000 });
      expect(items.map((i) => [i.flowId, i.stepIndex])).toEqual([[first, 1]]);
      expect(await setting()).toBe('on');

      // The leases hold: nobody else claims those rows.
      expect((await store.claimWork('w4', { limit: 5, leaseMs: 30_000 })).flows).toEqual([]);
      expect(await store.claimShards('w4', { limit: 5, leaseMs: 30_000 })).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
