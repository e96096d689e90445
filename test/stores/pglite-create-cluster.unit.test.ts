import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { openPgliteStore } from '../../src/stores/open-store.js';
import { createClusterInChild, needsCluster } from '../../src/stores/pglite/create-cluster.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-create-cluster-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('creating an embedded database in a child process', () => {
  it('leaves a cluster that the store then opens, migrates and uses', async () => {
    const dataDir = join(dir, 'db');
    await createClusterInChild(dataDir);
    expect(needsCluster(dataDir)).toBe(false);
    expect(existsSync(join(dataDir, 'base'))).toBe(true);
    const store = await openPgliteStore(dataDir);
    try {
      expect(await store.listFlows({ limit: 1 })).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('fails with a StoreError that says which directory and how the child ended', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    const failure = await createClusterInChild(join(file, 'db')).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StoreError);
    expect((failure as StoreError).message).toMatch(new RegExp(`creating the embedded database failed: the process creating ${join(file, 'db')} ended with exit code \\d+`));
    expect((failure as StoreError).code).toBe('STORE_REFUSED');
  });
});
