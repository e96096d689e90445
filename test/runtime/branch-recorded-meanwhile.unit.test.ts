// A graph step's attempt run as a work item, whose outcome someone else recorded meanwhile (a
// coordinator that took it for lost and scheduled its retry): the item's holder does not close the item
// on the retry. It decides again on the log as it now stands, so the retry runs and the flow can end.
import { expect, it } from 'vitest';
import { decideBranch } from '../../src/core/decide-branch.js';
import { planFlow } from '../../src/core/flow-plan.js';
import { replay } from '../../src/core/reducer.js';
import { defineFlow, defineStep, FlowEngine, MemoryFlowStore, type NewFlowEvent } from '../../src/index.js';
import { LeaseKeeper } from '../../src/runtime/lease-keeper.js';

const RETRY = { maxRetries: 3, backoff: { kind: 'none' as const } };

it("runs the retry of an attempt another process recorded as lost while it ran, and closes the item after", async () => {
  const store = new MemoryFlowStore();
  const leases = new LeaseKeeper({ store, owner: 'holder' });
  let runs = 0;
  let recordedElsewhere: () => Promise<void> = () => Promise.resolve();
  const definition = defineFlow('recorded-meanwhile', [
    defineStep('a', { kind: 'source', version: '1', run: async () => {
      runs += 1;
      if (runs === 1) await recordedElsewhere();
      return { outputs: [{ kind: 'n', payload: { run: runs } }] };
    } }, {}, { needs: [] }),
    defineStep('b', { kind: 'source', version: '1', run: () => ({ outputs: [] }) }, {}, { needs: [] }),
  ]);
  const engine = new FlowEngine({ store, leases, retryPolicy: RETRY });
  const flowId = await engine.startFlow(definition);
  await store.openSteps(flowId, [{ index: 0, due: 'now' }]);
  const [lease] = await leases.claimItems(1, { flowId, kind: 'step' });
  if (lease === undefined) throw new Error('the step item was not claimed');
  recordedElsewhere = async () => {
    // The lost record a claimer of an expired item (or a coordinator) writes: StepFailed WORKER_LOST and
    // its retry, not started.
    const flow = replay(flowId, await store.list(flowId), definition);
    const decision = decideBranch(flow, planFlow(definition, flow, RETRY), 0, { now: Date.now() });
    if (decision.kind !== 'recover') throw new Error(`expected a recovery, got ${decision.kind}`);
    const events = decision.events.filter((e) => e.type !== 'StepStarted').map((e): NewFlowEvent => ({ ...e, ts: new Date().toISOString() }));
    expect(events.map((e) => e.type)).toEqual(['StepFailed', 'RetryScheduled']);
    await store.append(flowId, flow.version, events);
  };

  const end = await engine.runBranch(lease, definition, await store.list(flowId), { retryPolicy: RETRY });
  expect(end).toBe('finished');
  expect(runs).toBe(2);
  const flow = (await engine.open(flowId, definition)).flow;
  expect(flow.steps[0]).toMatchObject({ status: 'FinishedOk', attempts: 2, retryCount: 1 });
  expect((await store.listShards(flowId)).find((r) => r.stepIndex === 0)?.open).toBe(false);
  leases.close();
});
