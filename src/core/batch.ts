import { createHash, type Hash } from 'node:crypto';
import { canonicalJson, type JsonObject, type JsonValue } from './canonical-json.js';

/**
 * A batch: an artifact whose payload is a list of rows, possibly with a few fields beside it
 * (`{ source, molecules: [...] }`), stored as a sequence of chunks of rows instead of one JSON value,
 * so that no process and no database field ever holds the whole list.
 *
 * Its hash is the SHA-256 of the canonical JSON of the payload it stands for — the same text, and so
 * the same hash, as the artifact held whole: a running hash over the text before the rows, each row's
 * canonical JSON with the commas between them, and the text after. How the rows are cut into chunks,
 * by which shard or in how many, never changes it, and a flow recorded before batches existed keeps
 * every fingerprint.
 */
export interface BatchShape {
  /**
   * The payload field holding the rows (`molecules`), or null when the payload is the list itself.
   */
  readonly rowsField: string | null;
  /** Every other field of the payload (empty when `rowsField` is null). */
  readonly header: JsonObject;
}

/** One stored chunk: the SHA-256 of its bytes (its address in the blob store), its rows and size. */
export interface ChunkRef {
  readonly hash: string;
  readonly rows: number;
  readonly bytes: number;
}

/** What the database keeps of a batch: its shape and its chunks in order. */
export interface BatchManifest extends BatchShape {
  readonly rowCount: number;
  readonly chunks: readonly ChunkRef[];
  /**
   * Set on a slice of another batch's rows (a mapped step's shard input, see `sliceManifest`): the rows
   * skipped at the start of the first chunk. The batch is then the `rowCount` rows from there, which
   * may end inside the last chunk. Absent: every row of every chunk.
   */
  readonly offset?: number;
}

/** Whether a manifest takes every row of its chunks (not a slice): its chunks may be concatenated as they are. */
export function isFullManifest(manifest: BatchManifest): boolean {
  return (manifest.offset ?? 0) === 0 && manifest.chunks.reduce((sum, ref) => sum + ref.rows, 0) === manifest.rowCount;
}

/**
 * Rows `[from, from + count)` of a batch as a manifest of their covering chunks and an offset: no row
 * is read or copied. Rows past the end are not there (the slice is shorter).
 */
export function sliceManifest(manifest: BatchManifest, from: number, count: number): BatchManifest {
  const start = Math.min(Math.max(0, from), manifest.rowCount) + (manifest.offset ?? 0);
  const rows = Math.max(0, Math.min(count, manifest.rowCount - Math.min(from, manifest.rowCount)));
  const chunks: ChunkRef[] = [];
  let offset = 0;
  let at = 0;
  for (const ref of manifest.chunks) {
    const end = at + ref.rows;
    if (rows > 0 && end > start && at < start + rows) {
      if (chunks.length === 0) offset = start - at;
      chunks.push(ref);
    }
    at = end;
  }
  const shape = { rowsField: manifest.rowsField, header: manifest.header, rowCount: rows, chunks };
  return offset === 0 ? shape : { ...shape, offset };
}

/**
 * The canonical JSON text around a batch's rows: `prefix + row₀ + ',' + row₁ ... + suffix` is the
 * canonical JSON of the payload. Found by writing the payload with a placeholder where the rows go.
 */
export function batchFrame(shape: BatchShape): { prefix: string; suffix: string } {
  if (shape.rowsField === null) {
    if (Object.keys(shape.header).length > 0) throw new TypeError('a batch whose payload is a list has no header fields');
    return { prefix: '[', suffix: ']' };
  }
  if (Object.hasOwn(shape.header, shape.rowsField))
    throw new TypeError(`the header of a batch cannot hold its rows field ${JSON.stringify(shape.rowsField)}`);
  const text = canonicalJson({ ...shape.header, [shape.rowsField]: ROWS_PLACEHOLDER });
  const marker = JSON.stringify(ROWS_PLACEHOLDER);
  const at = text.indexOf(`${JSON.stringify(shape.rowsField)}:${marker}`);
  // The key and placeholder occur once: keys are unique and sorted, and no header string can hold
  // the placeholder's quotes unescaped.
  const start = at + JSON.stringify(shape.rowsField).length + 1;
  return { prefix: `${text.slice(0, start)}[`, suffix: `]${text.slice(start + marker.length)}` };
}

const ROWS_PLACEHOLDER = '\u0000rows\u0000';

/** The running hash of a batch, fed one row at a time (each row's canonical JSON). */
export class BatchHasher {
  private readonly hash: Hash = createHash('sha256');
  private readonly suffix: string;
  private count = 0;

  constructor(shape: BatchShape) {
    const frame = batchFrame(shape);
    this.hash.update(frame.prefix, 'utf8');
    this.suffix = frame.suffix;
  }

  get rowCount(): number {
    return this.count;
  }

  /** Adds one row, given as its canonical JSON. */
  addRowText(rowText: string): void {
    this.hash.update(this.count === 0 ? rowText : `,${rowText}`, 'utf8');
    this.count++;
  }

  /**
   * Adds the rows of an encoded chunk (`encodeChunk`): its bytes with the newlines read as commas,
   * without decoding the rows.
   */
  addChunk(bytes: Uint8Array, rows: number): void {
    if (rows === 0) return;
    if (this.count > 0) this.hash.update(',', 'utf8');
    // Rows are canonical JSON, in which a newline byte only ever separates rows (strings escape it).
    let from = 0;
    for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) {
      this.hash.update(bytes.subarray(from, i));
      this.hash.update(',', 'utf8');
      from = i + 1;
    }
    this.hash.update(bytes.subarray(from));
    this.count += rows;
  }

  digest(): string {
    this.hash.update(this.suffix, 'utf8');
    return this.hash.digest('hex');
  }
}

const NEWLINE = 0x0a;

/** The hash of a batch of these rows: equal to `hashCanonical` of the payload it stands for. */
export function batchHashOf(shape: BatchShape, rows: Iterable<JsonValue>): string {
  const hasher = new BatchHasher(shape);
  for (const row of rows) hasher.addRowText(canonicalJson(row));
  return hasher.digest();
}

/** The payload a batch stands for, rows included: for steps that read their input whole. */
export function batchPayload(shape: BatchShape, rows: JsonValue[]): JsonValue {
  return shape.rowsField === null ? rows : { ...shape.header, [shape.rowsField]: rows };
}

/**
 * The shape of a payload that can be stored as a batch: an array, or an object with exactly one
 * array-valued field (the rows) — the same rule `map.over` uses to find what to split. Undefined when
 * the payload has no single list of rows.
 */
export function batchShapeOf(payload: JsonValue, rowsField?: string): { shape: BatchShape; rows: JsonValue[] } | undefined {
  if (Array.isArray(payload)) return rowsField === undefined ? { shape: { rowsField: null, header: {} }, rows: payload } : undefined;
  if (typeof payload !== 'object' || payload === null) return undefined;
  const lists = Object.keys(payload).filter((key) => Array.isArray(payload[key]) && (rowsField === undefined || key === rowsField));
  if (lists.length !== 1) return undefined;
  const field = lists[0] as string;
  const { [field]: rows, ...header } = payload;
  return { shape: { rowsField: field, header }, rows: rows as JsonValue[] };
}
