// A flow runs under the step policies recorded in its FlowInitialized, whichever process continues it.
import { describe, expect, it } from 'vitest';
import { FlowEngine, FlowWorker, type RetryPolicyOptions } from '../../src/index.js';
import { demoFlow } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';

const STRICT: RetryPolicyOptions = { maxRetries: 0, backoff: { kind: 'none' } };
const LENIENT: RetryPolicyOptions = { maxRetries: 3, backoff: { kind: 'none' } };

describe.each(engineStores)('recorded step policies on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('records each step policy at start; a worker with another policy applies the recorded one', async () => {
    await withStore(async (store) => {
      const definition = demoFlow(['Transient']);
      const flowId = await new FlowEngine({ store, retryPolicy: STRICT }).startFlow(definition);
      const [initialized] = await store.list(flowId);
      expect(initialized).toMatchObject({ type: 'FlowInitialized', policies: definition.steps.map(() => ({ retry: { maxRetries: 0 }, timeoutMs: null })) });

      const worker = new FlowWorker({ store, resolve: () => Promise.resolve({ definition, retryPolicy: LENIENT }) });
      expect(await worker.run({ untilIdle: true })).toMatchObject([{ kind: 'failed', flowId }]);
      expect((await store.listErrors(flowId)).map((e) => [e.stepId, e.maxRetries])).toEqual([['middle', 0]]);
    });
  });

  it('a log without recorded policies (older versions) runs under the policy of whoever runs it', async () => {
    await withStore(async (store) => {
      const definition = demoFlow(['Transient']);
      const flowId = await new FlowEngine({ store, retryPolicy: STRICT }).startFlow(definition);
      // The same flow as an older chemflow recorded it: a FlowInitialized without `policies`.
      const other = crypto.randomUUID();
      const [first] = await store.list(flowId);
      if (first?.type !== 'FlowInitialized') throw new Error('no FlowInitialized');
      const { policies: _policies, flowId: _id, version: _v, seq: _s, schemaVersion: _sv, ...old } = first;
      await store.append(other, 0, [old]);
      const flow = await new FlowEngine({ store, retryPolicy: LENIENT }).runToEnd(other, definition);
      expect(flow.status).toBe('completed');
      expect((await store.listErrors(other)).map((e) => [e.stepId, e.maxRetries])).toEqual([['middle', 3]]);
    });
  });
});
