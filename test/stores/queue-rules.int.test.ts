// The flow queue's rules, one statement per store: random but valid histories appended to every store,
// batch by batch, with lease operations and claims in between, leave each flow's queue row exactly as
// the rules of src/core/queue-row.ts say (status, due time, lease, version, times), and the rows rebuilt
// from the log too. A store whose queue applies a rule its own way differs on some history here.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cancelThenFailed, failedThenRetriedInOneBatch, firstDifference, observe, RuleQueue, scenario, type Observation } from '../support/queue-scenarios.js';
import { engineStores, storeRunner } from '../support/stores.js';

const SEED = Number(process.env.CHEMFLOW_QUEUE_SEED ?? 20261204);
const FLOWS = 200;

describe.each(engineStores)('the queue rules on $name', { timeout: 180_000 }, ({ create }) => {
  const withStore = storeRunner(create);

  it('cancelled, then the attempt in flight fails: the row stays cancelled and the lease is cleared', async () => {
    await withStore(async (store) => {
      const plan = cancelThenFailed(randomUUID());
      const script = { flows: [plan], rounds: plan.batches.map(() => ({ together: false, claim: false })) };
      const rows = (seen: Observation[]) => seen.map((o) => o.rows.get(plan.flowId));
      const expected = await observe(new RuleQueue(), script);
      expect(rows(expected).at(-2)).toMatchObject({ status: 'cancelled', lastEventType: 'StepFailed', due: null, leaseOwner: null, leased: null });
      expect(rows(await observe(store, script))).toEqual(rows(expected));
    });
  });

  it('a failed flow retried, restarted and finished in one batch is pending and due at once', async () => {
    await withStore(async (store) => {
      const plan = failedThenRetriedInOneBatch(randomUUID());
      const script = { flows: [plan], rounds: plan.batches.map(() => ({ together: false, claim: true })) };
      const seen = await observe(store, script);
      expect(seen[1]?.rows.get(plan.flowId)).toMatchObject({ status: 'pending', lastEventType: 'StepFinished', due: 'r1', leaseOwner: 'claimer' });
      expect(firstDifference(await observe(new RuleQueue(), script), seen, script.flows)).toBeNull();
    });
  });

  it(`${FLOWS} random histories (seed ${SEED}) leave the rows the rules say, after every round and after a rebuild`, async () => {
    await withStore(async (store) => {
      const script = scenario(SEED, FLOWS);
      const expected = await observe(new RuleQueue(), script);
      const actual = await observe(store, script);
      expect(firstDifference(expected, actual, script.flows)).toBeNull();
    });
  });
});
