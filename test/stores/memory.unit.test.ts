import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { describeStoreContract } from './store-contract.js';

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
