import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, link, rm } from 'node:fs/promises';
import { ArtifactIntegrityError } from '../core/errors.js';
import type { BlobStore } from '../stores/blobs/blob-store.js';
import { FsBlobStore } from '../stores/blobs/fs-blob-store.js';

/**
 * Puts the bytes of blob `hash` at `target` (a new file), read-only: a hard link into a blob directory
 * when it can (no copy, however large the file), else a copy. Either way the bytes are verified against
 * their hash first, so a tampered blob is refused (`ArtifactIntegrityError`, part `blob`) before any
 * program reads it. A link shares the blob's inode: it is made read-only as the blob is for everyone.
 */
export async function placeBlob(hash: string, target: string, blobs: BlobStore): Promise<void> {
  if (blobs.directory !== null) {
    let linked = false;
    try {
      await link(new FsBlobStore(blobs.directory).pathOf(hash), target);
      linked = true;
    } catch {
      // Another filesystem (EXDEV), no hard links (EPERM), no such blob: the copy below says which.
    }
    if (linked) {
      const actual = await sha256OfFile(target);
      if (actual !== hash) {
        await rm(target, { force: true });
        throw new ArtifactIntegrityError(hash, actual, null, 'blob');
      }
      await chmod(target, 0o444);
      return;
    }
  }
  await blobs.copyTo(hash, target);
  await chmod(target, 0o444);
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
