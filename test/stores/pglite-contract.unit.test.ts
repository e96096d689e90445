import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPgliteStore } from '../../src/stores/open-store.js';
import { schemaSnapshot } from '../helpers/schema-snapshot.js';
import { artifactRowCount, errorRows } from '../helpers/sql-inspect.js';
import { describeStoreContract } from './store-contract.js';
import { describeStepCacheContract } from './step-cache-contract.js';
import { describeBlobContract } from './blob-contract.js';
import { templatePgliteStore } from '../support/pglite-template.js';

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

// The engine suites' embedded stores start as copies of the test run's migrated template
// (test/support/pglite-template.ts) rather than fresh databases: the same schema, the same contract.
describeStoreContract('PGlite (in memory, copied from the test template)', async () => {
  const store = await templatePgliteStore();
  return {
    store,
    artifactCopies: (hash) => artifactRowCount(store.executor, hash),
    rawErrorRows: (flowId) => errorRows(store.executor, flowId),
    close: () => store.close(),
  };
});

describe('the test template of the embedded database', () => {
  it('has the schema a fresh embedded database has', async () => {
    const fresh = await openPgliteStore();
    const copy = await templatePgliteStore();
    try {
      expect(await schemaSnapshot(copy.executor)).toEqual(await schemaSnapshot(fresh.executor));
      expect((await schemaSnapshot(copy.executor)).migrations.length).toBeGreaterThan(0);
    } finally {
      await Promise.all([fresh.close(), copy.close()]);
    }
  });
});
