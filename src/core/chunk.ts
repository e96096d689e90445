import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { canonicalJson, type JsonObject, type JsonValue } from './canonical-json.js';
import { BatchHasher, type BatchManifest, type BatchShape, type ChunkRef } from './batch.js';
import { assertStorable } from './storable.js';
import { RowTooLargeError } from './output-size.js';

/**
 * A chunk as stored: the canonical JSON of its rows, one per line (UTF-8, `\n` between rows, none at
 * the end). Canonical JSON never holds a raw newline, so the lines are the rows; and the bytes with
 * newlines read as commas are the rows' part of the batch's hashed text.
 */
export function encodeChunk(rowTexts: readonly string[]): Uint8Array {
  return Buffer.from(rowTexts.join('\n'), 'utf8');
}

/** The canonical JSON text of each row of an encoded chunk. */
export function chunkRowTexts(bytes: Uint8Array): string[] {
  if (bytes.length === 0) return [];
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8').split('\n');
}

/** The rows of an encoded chunk. */
export function decodeChunk(bytes: Uint8Array): JsonValue[] {
  return chunkRowTexts(bytes).map((text) => JSON.parse(text) as JsonValue);
}

/** SHA-256 of bytes, lowercase hex: a chunk's or a file's address. */
export function sha256OfBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Where a batch writer cuts chunks: at whichever limit a row reaches first. */
export interface ChunkLimits {
  readonly maxRows: number;
  readonly maxBytes: number;
}

/**
 * 10,000 rows or 8 MiB: a chunk stays far below any database field limit and a step's memory, and a
 * molecule batch (about 200 bytes a row) is cut every 10,000 rows, about 2 MB.
 */
export const DEFAULT_CHUNK_LIMITS: ChunkLimits = { maxRows: 10_000, maxBytes: 8 * 1024 * 1024 };

/**
 * The largest one row may be: a single value this large is refused (`OUTPUT_TOO_LARGE`) rather than
 * stored, like the whole outputs of a step held as one value.
 */
export const MAX_ROW_BYTES = 64 * 1024 * 1024;

/**
 * 4 MiB: a step's output with one list of rows (`batchShapeOf`) whose canonical JSON is larger is
 * stored as a batch (the same hash), so no database field and no later reader holds it whole; a
 * smaller one stays whole, one value, as every output was before batches.
 */
export const BATCH_THRESHOLD_BYTES = 4 * 1024 * 1024;

/** Where a writer puts the chunks it cuts (a blob store), and how it reads one back. */
export interface ChunkIo {
  /** Stores a chunk; resolves once its bytes are durable. */
  put(bytes: Uint8Array, ref: ChunkRef): Promise<void>;
  /** Reads a stored chunk back (verified): needed only when the header comes at `close`. */
  get?(ref: ChunkRef): Promise<Uint8Array>;
}

/**
 * Writes a batch: canonicalises and checks each row (the checks every stored value gets), cuts chunks
 * at `limits`, hands each to `io.put`, and hashes as it goes. `close` gives the manifest and the hash.
 * Pure apart from `io`: the runtime supplies the blob store.
 *
 * A header known only at the end (counts over the rows) is given to `close`; since it is hashed before
 * the rows, the hash is then computed by reading the chunks back, one at a time.
 */
export class BatchWriter {
  private hasher: BatchHasher | undefined;
  private readonly chunks: ChunkRef[] = [];
  private pending: string[] = [];
  private pendingBytes = 0;
  private count = 0;
  private closed = false;

  constructor(
    private readonly rowsField: string | null,
    private readonly header: JsonObject | undefined,
    private readonly io: ChunkIo,
    private readonly limits: ChunkLimits = DEFAULT_CHUNK_LIMITS,
  ) {
    if (header !== undefined) this.hasher = new BatchHasher({ rowsField, header: checkedHeader(header) });
  }

  get rowCount(): number {
    return this.count;
  }

  /** Adds one row; stores a chunk when it is full. Throws for a row no store can keep. */
  async push(row: JsonValue): Promise<void> {
    await this.pushText(rowText(row, this.count));
  }

  /** Adds a row already written as canonical JSON (a row read from another batch, passed on). */
  async pushText(text: string): Promise<void> {
    if (this.closed) throw new Error('this batch writer is closed');
    this.hasher?.addRowText(text);
    this.pending.push(text);
    this.count++;
    this.pendingBytes += Buffer.byteLength(text, 'utf8') + 1;
    if (this.pending.length >= this.limits.maxRows || this.pendingBytes >= this.limits.maxBytes) await this.flush();
  }

  /** Stores what is left and returns the manifest and hash of the batch. */
  async close(header?: JsonObject): Promise<{ hash: string; manifest: BatchManifest }> {
    if (this.closed) throw new Error('this batch writer is closed');
    if ((header === undefined) === (this.header === undefined))
      throw new TypeError(this.header === undefined ? 'this batch\'s header must be given to close()' : 'this batch\'s header was given when it was opened');
    await this.flush();
    this.closed = true;
    const shape: BatchShape = { rowsField: this.rowsField, header: this.header ?? checkedHeader(header as JsonObject) };
    const manifest: BatchManifest = { ...shape, rowCount: this.count, chunks: this.chunks };
    return { hash: await this.digest(shape), manifest };
  }

  private async digest(shape: BatchShape): Promise<string> {
    if (this.hasher !== undefined) return this.hasher.digest();
    const io = this.io;
    if (io.get === undefined) throw new TypeError('a batch whose header comes at close() needs io.get to read its chunks back');
    const hasher = new BatchHasher(shape);
    for (const ref of this.chunks) hasher.addChunk(await io.get(ref), ref.rows);
    return hasher.digest();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const bytes = encodeChunk(this.pending);
    const ref: ChunkRef = { hash: sha256OfBytes(bytes), rows: this.pending.length, bytes: bytes.byteLength };
    this.pending = [];
    this.pendingBytes = 0;
    this.chunks.push(ref);
    await this.io.put(bytes, ref);
  }
}

/**
 * A row's canonical JSON, refused (with its index) when no store can keep it, or when it is larger
 * than `MAX_ROW_BYTES` (`RowTooLargeError`, `OUTPUT_TOO_LARGE`).
 */
export function rowText(row: JsonValue, index: number): string {
  const path = `rows[${index}]`;
  assertStorable(row, path);
  const text = canonicalJson(row);
  if (text.length > MAX_ROW_BYTES / 3) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_ROW_BYTES) throw new RowTooLargeError(path, bytes, MAX_ROW_BYTES);
  }
  return text;
}

/** The header a batch is written with, checked like any stored value. */
export function checkedHeader(header: JsonObject): JsonObject {
  canonicalJson(header);
  assertStorable(header, 'header');
  return header;
}
