import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { sha256OfBytes } from '../../core/chunk.js';
import { ArtifactIntegrityError, BlobNotFoundError } from '../../core/errors.js';
import type { BlobStore } from './blob-store.js';

/** Bytes in a map, for the memory store: lost with the process, like everything it keeps. */
export class MemoryBlobStore implements BlobStore {
  readonly location = 'memory';
  readonly directory = null;
  readonly keepsFiles = true;
  private readonly blobs = new Map<string, Uint8Array>();

  put(bytes: Uint8Array, hash: string = sha256OfBytes(bytes)): Promise<string> {
    if (!this.blobs.has(hash)) this.blobs.set(hash, Uint8Array.from(bytes));
    return Promise.resolve(hash);
  }

  get(hash: string): Promise<Uint8Array> {
    const bytes = this.blobs.get(hash);
    if (bytes === undefined) return Promise.reject(new BlobNotFoundError(hash, this.location));
    const actual = sha256OfBytes(bytes);
    if (actual !== hash) return Promise.reject(new ArtifactIntegrityError(hash, actual, null, 'blob'));
    return Promise.resolve(Uint8Array.from(bytes));
  }

  async putFile(path: string): Promise<{ hash: string; size: number }> {
    const bytes = await readFile(path);
    const hash = createHash('sha256').update(bytes).digest('hex');
    await this.put(bytes, hash);
    return { hash, size: bytes.byteLength };
  }

  async copyTo(hash: string, path: string): Promise<void> {
    await writeFile(path, await this.get(hash), { flag: 'wx' });
  }

  has(hash: string): Promise<boolean> {
    return Promise.resolve(this.blobs.has(hash));
  }

  async *list(): AsyncIterable<string> {
    for (const hash of [...this.blobs.keys()]) yield await Promise.resolve(hash);
  }

  remove(hash: string): Promise<void> {
    this.blobs.delete(hash);
    return Promise.resolve();
  }

  /** Replaces a blob's bytes behind the store's back: for tests of what a tampered blob does. */
  tamper(hash: string, bytes: Uint8Array): void {
    this.blobs.set(hash, bytes);
  }
}

