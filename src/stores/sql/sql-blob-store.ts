import { sha256OfBytes } from '../../core/chunk.js';
import { ArtifactIntegrityError, BlobDirRequiredError, BlobNotFoundError } from '../../core/errors.js';
import { BLOB_HASH, type BlobStore } from '../blobs/blob-store.js';
import { getChunkQuery, hasChunkQuery, listChunksQuery, putChunkQuery, removeChunkQuery } from './chunk-queries.js';
import { run, type SqlExecutor } from './executor.js';
import { withRetry } from './transient.js';

/**
 * Batch chunks in the database's `artifact_chunks` table: the blob store of a PostgreSQL server run
 * without a blob directory, so that a batch needs nothing but the database every worker already
 * reaches. Files are not kept here (`BlobDirRequiredError`): they are handed to tools by path, and a
 * table row is no path.
 */
export class SqlBlobStore implements BlobStore {
  readonly location = 'database';
  readonly directory = null;
  readonly keepsFiles = false;

  constructor(private readonly executor: SqlExecutor) {}

  async put(bytes: Uint8Array, hash: string = sha256OfBytes(bytes)): Promise<string> {
    checkHash(hash);
    await withRetry('store a chunk', () => run(this.executor, putChunkQuery(hash, bytes)));
    return hash;
  }

  async get(hash: string): Promise<Uint8Array> {
    checkHash(hash);
    const rows = await withRetry('read a chunk', () => run<{ bytes: Uint8Array }>(this.executor, getChunkQuery(hash)));
    const bytes = rows[0]?.bytes;
    if (bytes === undefined) throw new BlobNotFoundError(hash, this.location);
    const actual = sha256OfBytes(bytes);
    if (actual !== hash) throw new ArtifactIntegrityError(hash, actual, null, 'blob');
    return bytes;
  }

  putFile(): Promise<{ hash: string; size: number }> {
    return Promise.reject(new BlobDirRequiredError(this.location));
  }

  copyTo(): Promise<void> {
    return Promise.reject(new BlobDirRequiredError(this.location));
  }

  async has(hash: string): Promise<boolean> {
    checkHash(hash);
    const rows = await withRetry('look up a chunk', () => run<{ present: boolean }>(this.executor, hasChunkQuery(hash)));
    return rows[0]?.present === true;
  }

  async *list(): AsyncIterable<string> {
    for (let after = '';;) {
      const page = await withRetry('list chunks', () => run<{ hash: string }>(this.executor, listChunksQuery(after, LIST_PAGE)));
      for (const row of page) yield row.hash;
      const last = page[page.length - 1];
      if (last === undefined || page.length < LIST_PAGE) return;
      after = last.hash;
    }
  }

  async remove(hash: string): Promise<void> {
    checkHash(hash);
    await withRetry('remove a chunk', () => run(this.executor, removeChunkQuery(hash)));
  }
}

const LIST_PAGE = 1000;

function checkHash(hash: string): void {
  if (!BLOB_HASH.test(hash)) throw new TypeError(`not a blob hash: ${JSON.stringify(hash)}`);
}
