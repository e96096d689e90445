import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPgliteStore } from '../../src/stores/open-store.js';
import { artifactRowCount, errorRows } from '../helpers/sql-inspect.js';
import { describeStoreContract } from './store-contract.js';
import { describeStepCacheContract } from './step-cache-contract.js';
import { describeBlobContract } from './blob-contract.js';

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

// The embedded database as `chemflow` opens it: a directory, its blobs in `<directory>/blobs`.
describeBlobContract(
  'PGlite (in a directory)',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chemflow-pglite-blobs-'));
    const store = await openPgliteStore(join(dir, 'db'));
    return {
      store,
      close: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { keepsFiles: true },
);
