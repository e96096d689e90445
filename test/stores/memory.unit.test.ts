import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { describeStoreContract } from './store-contract.js';
import { describeStepCacheContract } from './step-cache-contract.js';
import { describeBlobContract } from './blob-contract.js';
import { flowInitialized } from '../helpers/events.js';

describeStoreContract('memory', () => {
  const store = new MemoryFlowStore();
  return Promise.resolve({
    store,
    artifactCopies: (hash) =>
      store.getArtifacts([hash]).then(
        () => 1,
        () => 0,
      ),
    close: () => store.close(),
  });
});

describeStepCacheContract('memory', () => Promise.resolve(new MemoryFlowStore()));

describeBlobContract(
  'memory',
  () => {
    const store = new MemoryFlowStore();
    return Promise.resolve({ store, close: () => store.close() });
  },
  { keepsFiles: true },
);

describe('MemoryFlowStore reads', () => {
  it('hands out deep-frozen events: a caller cannot change the log, and reads copy nothing', async () => {
    const store = new MemoryFlowStore();
    const flowId = randomUUID();
    const input = flowInitialized();
    await store.append(flowId, 0, [input]);
    (input as { flowName: string }).flowName = 'changed by the caller after append';
    const [event] = await store.list(flowId);
    expect(event?.type === 'FlowInitialized' && event.flowName).toBe('contract-flow');
    expect(Object.isFrozen(event) && Object.isFrozen(event?.type === 'FlowInitialized' ? event.stepIds : null)).toBe(true);
    expect(() => {
      (event as { version: number }).version = 9;
    }).toThrow(TypeError);
    expect((await store.list(flowId))[0]).toBe(event);
  });
});
