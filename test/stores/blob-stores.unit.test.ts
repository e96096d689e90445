// The three blob stores behind one interface: bytes by their SHA-256, stored once, verified on every read.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256OfBytes } from '../../src/core/chunk.js';
import { BlobNotFoundError } from '../../src/core/errors.js';
import type { BlobStore } from '../../src/stores/blobs/blob-store.js';
import { FsBlobStore } from '../../src/stores/blobs/fs-blob-store.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';
import { SqlBlobStore } from '../../src/stores/sql/sql-blob-store.js';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { templatePgliteStore } from '../support/pglite-template.js';

interface Subject {
  blobs: BlobStore;
  /** Replaces a blob's bytes behind the store's back. */
  tamper(hash: string, bytes: Uint8Array): Promise<void>;
}

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);

describe.each([
  ['memory', 'memory'],
  ['a directory', 'fs'],
  ['the artifact_chunks table (PGlite)', 'sql'],
] as const)('blob store in %s', (_label, kind) => {
  let subject: Subject;
  let dir: string;
  let database: SqlFlowStore | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chemflow-blobs-'));
    if (kind === 'memory') {
      const blobs = new MemoryBlobStore();
      subject = { blobs, tamper: (hash, bytes) => Promise.resolve(blobs.tamper(hash, bytes)) };
    } else if (kind === 'fs') {
      const blobs = new FsBlobStore(join(dir, 'blobs'));
      subject = { blobs, tamper: (hash, bytes) => writeFile(blobs.pathOf(hash), bytes) };
    } else {
      const store = await templatePgliteStore();
      database = store;
      subject = {
        blobs: new SqlBlobStore(store.executor),
        tamper: async (hash, bytes) => {
          await store.executor.exec('ALTER TABLE artifact_chunks DISABLE TRIGGER artifact_chunks_append_only');
          await store.executor.query('UPDATE artifact_chunks SET bytes = $1 WHERE hash = $2', [Buffer.from(bytes), hash]);
          await store.executor.exec('ALTER TABLE artifact_chunks ENABLE TRIGGER artifact_chunks_append_only');
        },
      };
    }
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores bytes under their SHA-256 once, and reads them back', async () => {
    const { blobs } = subject;
    const bytes = bytesOf(`{"row":"${randomUUID()}"}`);
    const hash = await blobs.put(bytes);
    expect(hash).toBe(sha256OfBytes(bytes));
    expect(await blobs.put(bytes, hash)).toBe(hash);
    expect(await blobs.has(hash)).toBe(true);
    expect(Buffer.from(await blobs.get(hash))).toEqual(Buffer.from(bytes));
    const empty = await blobs.put(new Uint8Array(0));
    expect(await blobs.get(empty)).toHaveLength(0);
  });

  it('refuses changed bytes (ARTIFACT_INTEGRITY, part blob) and names a missing blob (BLOB_NOT_FOUND)', async () => {
    const { blobs } = subject;
    const hash = await blobs.put(bytesOf(`original ${randomUUID()}`));
    await subject.tamper(hash, bytesOf('changed'));
    await expect(blobs.get(hash)).rejects.toMatchObject({ code: 'ARTIFACT_INTEGRITY', expectedHash: hash, actualHash: sha256OfBytes(bytesOf('changed')), part: 'blob' });
    const missing = sha256OfBytes(bytesOf(`never stored ${randomUUID()}`));
    await expect(blobs.get(missing)).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(blobs.get(missing)).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND', hash: missing, location: blobs.location });
    expect(await blobs.has(missing)).toBe(false);
  });

  it('lists every hash once, in order, across pages, and removes one', async () => {
    const { blobs } = subject;
    const written = new Set<string>();
    for (let i = 0; i < 1_100; i++) written.add(await blobs.put(bytesOf(`{"n":${i},"run":"${randomUUID()}"}`)));
    const listed: string[] = [];
    for await (const hash of blobs.list()) listed.push(hash);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...written].filter((hash) => !listed.includes(hash))).toEqual([]);
    if (kind !== 'memory') expect(listed).toEqual([...listed].sort());
    const [gone] = written;
    await blobs.remove(gone as string);
    await blobs.remove(gone as string); // absent is fine
    expect(await blobs.has(gone as string)).toBe(false);
  });

  it(kind === 'sql' ? 'refuses files (BLOB_DIR_REQUIRED)' : 'keeps files: stored without holding them whole, copied out verified', async () => {
    const { blobs } = subject;
    const source = join(dir, `in-${randomUUID()}.sdf`);
    const text = `molecule ${randomUUID()}\n$$$$\n`;
    await writeFile(source, text);
    if (kind === 'sql') {
      expect(blobs.keepsFiles).toBe(false);
      await expect(blobs.putFile(source)).rejects.toMatchObject({ code: 'BLOB_DIR_REQUIRED', errorClass: 'Permanent' });
      await expect(blobs.copyTo(sha256OfBytes(bytesOf(text)), join(dir, 'out'))).rejects.toMatchObject({ code: 'BLOB_DIR_REQUIRED' });
      return;
    }
    expect(blobs.keepsFiles).toBe(true);
    const stored = await blobs.putFile(source);
    expect(stored).toEqual({ hash: sha256OfBytes(bytesOf(text)), size: Buffer.byteLength(text) });
    const copy = join(dir, `out-${randomUUID()}.sdf`);
    await blobs.copyTo(stored.hash, copy);
    expect(await readFile(copy, 'utf8')).toBe(text);
    await subject.tamper(stored.hash, bytesOf('not the molecule'));
    const refused = join(dir, `refused-${randomUUID()}.sdf`);
    await expect(blobs.copyTo(stored.hash, refused)).rejects.toMatchObject({ code: 'ARTIFACT_INTEGRITY' });
    expect((await readdir(dir)).includes(refused.slice(dir.length + 1))).toBe(false);
  });
});
