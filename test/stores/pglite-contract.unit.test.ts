import { openPgliteStore } from '../../src/stores/open-store.js';
import { artifactRowCount, errorRows } from '../helpers/sql-inspect.js';
import { describeStoreContract } from './store-contract.js';
import { describeStepCacheContract } from './step-cache-contract.js';

// One in-memory PGlite for the whole suite (start-up costs about a second); tests use unique ids.
describeStoreContract('PGlite (in memory)', async () => {
  const store = await openPgliteStore();
  return {
    store,
    artifactCopies: (hash) => artifactRowCount(store.executor, hash),
    rawErrorRows: (flowId) => errorRows(store.executor, flowId),
    close: () => store.close(),
  };
});

describeStepCacheContract('PGlite (in memory)', () => openPgliteStore());
