import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { FlowStore } from '../../src/index.js';
import { MemoryFlowStore } from '../../src/index.js';
import { createTestSchema, pgAvailable, pgSkipReason } from '../helpers/pg.js';
import { templatePgliteStore } from './pglite-template.js';

export interface StoreFactory {
  name: string;
  /** A fresh, isolated store; closing it also removes what it created. */
  create: () => Promise<FlowStore>;
}

/** A PostgreSQL store in a schema of its own, dropped when the store closes. */
async function isolatedPostgresStore(): Promise<FlowStore> {
  const schema = await createTestSchema('engine');
  const store = await schema.openStore();
  const close = store.close.bind(store);
  return Object.assign(store, {
    close: async () => {
      await close();
      await schema.drop();
    },
  });
}

/**
 * Every store the engine-level suites run against: the same tests, memory and both databases (the
 * embedded one a copy of the test run's migrated template: see pglite-template.ts).
 */
export const engineStores: StoreFactory[] = [
  { name: 'memory', create: () => Promise.resolve(new MemoryFlowStore()) },
  { name: 'pglite', create: () => templatePgliteStore() },
  ...(pgAvailable ? [{ name: 'postgres', create: isolatedPostgresStore }] : []),
];

// Without the server the shared suites run on memory and PGlite only; every file that uses them shows
// that as a skipped test with the reason, never as a silently shorter list (with CI set, pg.ts fails).
if (pgSkipReason !== null) describe('the shared suites on postgres', () => it.skip(`SKIPPED: ${pgSkipReason}`));

/**
 * Every store with a blob store that keeps files (what command steps and file artifacts need): memory,
 * PGlite and PostgreSQL with a blob directory of their own, removed when the store closes.
 */
export const fileEngineStores: StoreFactory[] = [
  { name: 'memory', create: () => Promise.resolve(new MemoryFlowStore()) },
  { name: 'pglite', create: async () => withBlobDir((blobDir) => templatePgliteStore({ blobDir })) },
  ...(pgAvailable
    ? [
        {
          name: 'postgres',
          create: async () => {
            const schema = await createTestSchema('files');
            const store = await withBlobDir((blobDir) => schema.openStore({ blobDir }));
            const close = store.close.bind(store);
            return Object.assign(store, { close: async () => (await close(), await schema.drop()) });
          },
        },
      ]
    : []),
];

/** A store opened on a new temporary blob directory, removed when the store closes. */
async function withBlobDir(open: (blobDir: string) => Promise<FlowStore>): Promise<FlowStore> {
  const blobDir = await mkdtemp(join(tmpdir(), 'chemflow-blobs-'));
  const store = await open(blobDir);
  const close = store.close.bind(store);
  return Object.assign(store, { close: async () => (await close(), await rm(blobDir, { recursive: true, force: true })) });
}

/** `withStore(fn)`: runs `fn` on a fresh store from `create` and always closes it. */
export function storeRunner(create: () => Promise<FlowStore>) {
  return async function withStore<T>(fn: (store: FlowStore) => Promise<T>): Promise<T> {
    const store = await create();
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };
}
