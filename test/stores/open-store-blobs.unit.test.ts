// Which blob store each store location opens with: a blob directory when one is given (the option, else
// CHEMFLOW_BLOB_DIR), else the embedded database's own `blobs/`, or memory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, resolveBlobDir } from '../../src/stores/open-store.js';

let dir: string;
const envBefore = process.env.CHEMFLOW_BLOB_DIR;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-open-blobs-'));
});
afterEach(() => {
  if (envBefore === undefined) delete process.env.CHEMFLOW_BLOB_DIR;
  else process.env.CHEMFLOW_BLOB_DIR = envBefore;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the blob store a store opens with', () => {
  it('is the given directory, else CHEMFLOW_BLOB_DIR, else none', () => {
    delete process.env.CHEMFLOW_BLOB_DIR;
    expect(resolveBlobDir()).toBeUndefined();
    expect(resolveBlobDir('')).toBeUndefined();
    process.env.CHEMFLOW_BLOB_DIR = '/shared/blobs';
    expect(resolveBlobDir()).toBe('/shared/blobs');
    expect(resolveBlobDir('/given')).toBe('/given');
  });

  it("keeps an embedded database's blobs in its own blobs/ directory, or in --blob-dir", async () => {
    delete process.env.CHEMFLOW_BLOB_DIR;
    const db = join(dir, 'db');
    const own = await openStore(db);
    try {
      expect(own.blobs).toMatchObject({ directory: join(db, 'blobs'), keepsFiles: true });
    } finally {
      await own.close();
    }
    const given = await openStore(db, { blobDir: join(dir, 'shared') });
    try {
      expect(given.blobs).toMatchObject({ directory: join(dir, 'shared'), keepsFiles: true });
    } finally {
      await given.close();
    }
  });

  it('keeps the memory store in memory unless a directory is given (here from the environment)', async () => {
    delete process.env.CHEMFLOW_BLOB_DIR;
    const memory = await openStore('memory');
    expect(memory.blobs).toMatchObject({ location: 'memory', directory: null });
    process.env.CHEMFLOW_BLOB_DIR = join(dir, 'from-env');
    const withDir = await openStore('memory');
    expect(withDir.blobs).toMatchObject({ directory: join(dir, 'from-env') });
  });
});
