import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { artifactRowCount, errorRows } from '../helpers/sql-inspect.js';
import { describeStoreContract } from './store-contract.js';
import { describeStepCacheContract } from './step-cache-contract.js';

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
});
