import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { artifactRowCount, errorRows } from '../helpers/sql-inspect.js';
import { describeStoreContract } from './store-contract.js';
import { describeStepCacheContract } from './step-cache-contract.js';
import { describeBlobContract } from './blob-contract.js';

describeWithPg('PostgreSQL server', () => {
  let schema: TestSchema | undefined;
  describeStoreContract('PostgreSQL server', async () => {
    schema = await createTestSchema('contract');
    const store = await schema.openStore();
    return {
      store,
      artifactCopies: (hash) => artifactRowCount(store.executor, hash),
      rawErrorRows: (flowId) => errorRows(store.executor, flowId),
      close: async () => {
        await store.close();
        await schema?.drop();
      },
    };
  });

  let cacheSchema: TestSchema | undefined;
  describeStepCacheContract('PostgreSQL server', async () => {
    cacheSchema = await createTestSchema('cache');
    const store = await cacheSchema.openStore();
    const close = store.close.bind(store);
    return Object.assign(store, {
      close: async () => {
        await close();
        await cacheSchema?.drop();
      },
    });
  });

  // Without a blob directory, batch chunks are rows of `artifact_chunks` and files are refused.
  describeBlobContract(
    'PostgreSQL server, chunks in the database',
    async () => {
      const blobSchema = await createTestSchema('blobs_db');
      const store = await blobSchema.openStore();
      return {
        store,
        close: async () => {
          await store.close();
          await blobSchema.drop();
        },
      };
    },
    { keepsFiles: false },
  );

  describeBlobContract(
    'PostgreSQL server with a blob directory',
    async () => {
      const blobSchema = await createTestSchema('blobs_dir');
      const blobDir = await mkdtemp(join(tmpdir(), 'chemflow-pg-blobs-'));
      const store = await blobSchema.openStore({ blobDir });
      return {
        store,
        close: async () => {
          await store.close();
          await blobSchema.drop();
          await rm(blobDir, { recursive: true, force: true });
        },
      };
    },
    { keepsFiles: true },
  );
});
