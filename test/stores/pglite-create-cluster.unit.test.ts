import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { openPgliteStore } from '../../src/stores/open-store.js';
import { createCluster } from '../../src/stores/pglite/cluster-template.js';
import { createClusterInChild, needsCluster } from '../../src/stores/pglite/create-cluster.js';
import { PgliteExecutor } from '../../src/stores/pglite/pglite-executor.js';

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

describe('new embedded databases copy a cached cluster template', () => {
  it('makes the template once and gives each database its own copy', async () => {
    const cacheDir = join(dir, 'cache-once');
    const first = join(dir, 'copy-1');
    const second = join(dir, 'copy-2');
    await createCluster(first, cacheDir);
    const [template] = await readdir(join(cacheDir, 'pglite'));
    expect(template).toMatch(/^cluster-\d+\.\d+\.\d+/);
    const madeAt = (await stat(join(cacheDir, 'pglite', template as string, 'PG_VERSION'))).mtimeMs;
    await createCluster(second, cacheDir);
    expect((await stat(join(cacheDir, 'pglite', template as string, 'PG_VERSION'))).mtimeMs).toBe(madeAt);
    expect(await readdir(join(cacheDir, 'pglite'))).toEqual([template]);

    const one = await PgliteExecutor.open(first);
    const two = await PgliteExecutor.open(second);
    try {
      await one.exec('CREATE TABLE only_in_the_first (n int)');
      const tables = async (db: PgliteExecutor): Promise<string[]> =>
        (await db.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).map((r) => r.tablename);
      expect(await tables(one)).toEqual(['only_in_the_first']);
      expect(await tables(two)).toEqual([]);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('lets databases created at the same time share one template', async () => {
    const cacheDir = join(dir, 'cache-race');
    await Promise.all([createCluster(join(dir, 'race-1'), cacheDir), createCluster(join(dir, 'race-2'), cacheDir)]);
    expect(needsCluster(join(dir, 'race-1'))).toBe(false);
    expect(needsCluster(join(dir, 'race-2'))).toBe(false);
    const left = await readdir(join(cacheDir, 'pglite'));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^cluster-[\d.]+$/);
  });

  it('creates the database in place when the cache cannot be written', async () => {
    const blocked = join(dir, 'cache-is-a-file');
    await writeFile(blocked, 'in the way');
    const dataDir = join(dir, 'no-cache');
    await createCluster(dataDir, blocked);
    expect(needsCluster(dataDir)).toBe(false);
    const store = await openPgliteStore(dataDir);
    await store.close();
  });
});
