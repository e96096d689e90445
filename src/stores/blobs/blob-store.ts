/**
 * Where the bytes of chunks and files live, addressed by their SHA-256 (lowercase hex). The database
 * keeps hashes, sizes and kinds; a blob store keeps bytes, each once. Every read verifies the bytes
 * against their address (`ArtifactIntegrityError`, part `blob`), so a tampered or truncated blob is
 * never handed to a step. A directory implements it (the embedded store's `blobs/`, or `--blob-dir`
 * on PostgreSQL); the memory store keeps bytes in memory; an object store can implement it later.
 */
export interface BlobStore {
  /** Where the bytes are, for messages: a directory, `memory`, `database`. */
  readonly location: string;
  /**
   * A directory any thread or process of this machine can open with `FsBlobStore`, or null when
   * only this object reaches the bytes (memory, a database table).
   */
  readonly directory: string | null;
  /** Whether it may hold file artifacts (a database table holds batch chunks only). */
  readonly keepsFiles: boolean;

  /** Stores bytes under their hash (computed when not given); storing bytes already there is a no-op. */
  put(bytes: Uint8Array, hash?: string): Promise<string>;
  /** The bytes of `hash`, verified; `BlobNotFoundError` when absent. */
  get(hash: string): Promise<Uint8Array>;
  /** Stores a file's bytes without holding them whole; returns their hash and size. */
  putFile(path: string): Promise<{ hash: string; size: number }>;
  /** Writes the bytes of `hash` to `path` (a new file), verified; `BlobNotFoundError` when absent. */
  copyTo(hash: string, path: string): Promise<void>;
  has(hash: string): Promise<boolean>;
  /** Every stored hash (for cleanup). */
  list(): AsyncIterable<string>;
  /** Removes a blob no artifact names any more; absent is fine. */
  remove(hash: string): Promise<void>;
}

export const BLOB_HASH = /^[0-9a-f]{64}$/;
