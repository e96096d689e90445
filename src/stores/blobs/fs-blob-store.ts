import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256OfBytes } from '../../core/chunk.js';
import { ArtifactIntegrityError, BlobNotFoundError } from '../../core/errors.js';
import { BLOB_HASH, type BlobStore } from './blob-store.js';

/**
 * Blobs as files of a directory: `sha256/ab/<hash>` (the first two hex digits fan the files out), each
 * written to `tmp/` first, flushed to disk, then renamed into place, so a crash leaves either the whole
 * blob or none under its address (and at most a stray file in `tmp/`, removed by `chemflow gc`). The
 * directory may be shared by several processes and machines (a network filesystem on a cluster):
 * writes of the same hash race harmlessly, both write the same bytes.
 */
export class FsBlobStore implements BlobStore {
  readonly keepsFiles = true;
  readonly location: string;

  constructor(readonly directory: string) {
    this.location = directory;
  }

  pathOf(hash: string): string {
    if (!BLOB_HASH.test(hash)) throw new TypeError(`not a blob hash: ${JSON.stringify(hash)}`);
    return join(this.directory, 'sha256', hash.slice(0, 2), hash);
  }

  async put(bytes: Uint8Array, hash: string = sha256OfBytes(bytes)): Promise<string> {
    const path = this.pathOf(hash);
    if (await exists(path)) return hash;
    const temp = await this.tempPath();
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await this.place(temp, path);
    return hash;
  }

  async get(hash: string): Promise<Uint8Array> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(hash));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(hash, this.location);
      throw error;
    }
    const actual = sha256OfBytes(bytes);
    if (actual !== hash) throw new ArtifactIntegrityError(hash, actual, null, 'blob');
    return bytes;
  }

  async putFile(source: string): Promise<{ hash: string; size: number }> {
    const temp = await this.tempPath();
    const hasher = createHash('sha256');
    let size = 0;
    const counting = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hasher.update(chunk);
        size += chunk.byteLength;
        done(null, chunk);
      },
    });
    try {
      await pipeline(createReadStream(source), counting, createWriteStream(temp, { flags: 'wx', flush: true }));
      const hash = hasher.digest('hex');
      const path = this.pathOf(hash);
      if (await exists(path)) await unlink(temp);
      else await this.place(temp, path);
      return { hash, size };
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async copyTo(hash: string, destination: string): Promise<void> {
    const hasher = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hasher.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(createReadStream(this.pathOf(hash)), hashing, createWriteStream(destination, { flags: 'wx' }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !(await exists(this.pathOf(hash))))
        throw new BlobNotFoundError(hash, this.location);
      throw error;
    }
    const actual = hasher.digest('hex');
    if (actual !== hash) {
      await rm(destination, { force: true });
      throw new ArtifactIntegrityError(hash, actual, null, 'blob');
    }
  }

  has(hash: string): Promise<boolean> {
    return exists(this.pathOf(hash));
  }

  async *list(): AsyncIterable<string> {
    const root = join(this.directory, 'sha256');
    const fans = await readdir(root).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[];
      throw error;
    });
    for (const fan of fans.sort()) for (const name of (await readdir(join(root, fan))).sort()) if (BLOB_HASH.test(name)) yield name;
  }

  async remove(hash: string): Promise<void> {
    await rm(this.pathOf(hash), { force: true });
  }

  private async tempPath(): Promise<string> {
    const dir = join(this.directory, 'tmp');
    await mkdir(dir, { recursive: true });
    return join(dir, `${randomUUID()}.part`);
  }

  private async place(temp: string, path: string): Promise<void> {
    await mkdir(join(path, '..'), { recursive: true });
    await rename(temp, path);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
