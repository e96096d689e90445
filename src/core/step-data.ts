import type { Artifact, ArtifactDraft, BatchArtifact, FileArtifact } from './artifact.js';
import type { JsonObject, JsonValue } from './canonical-json.js';

/**
 * A batch input as a streaming step sees it (`streaming: true` on its module): the manifest's facts,
 * and its rows read chunk by chunk from the blob store. Each chunk is verified against its hash as it
 * is read, and the batch's own hash when the last row has been read: a tampered chunk or manifest
 * fails the attempt with `ARTIFACT_INTEGRITY` before the step sees a wrong row (or, for a manifest,
 * before its outputs are kept).
 */
export interface BatchInput {
  readonly form: 'batch';
  readonly kind: string;
  readonly hash: string;
  readonly metadata?: Record<string, JsonValue>;
  /** The payload field holding the rows, or null when the payload is the list itself. */
  readonly rowsField: string | null;
  /** Every other field of the payload. */
  readonly header: JsonObject;
  readonly rowCount: number;
  /** The rows in order. */
  rows(): AsyncIterable<JsonValue>;
  /** The rows in order, a stored chunk at a time. */
  chunks(): AsyncIterable<readonly JsonValue[]>;
  /** The whole payload in memory, as a step that does not stream gets it. */
  whole(): Promise<Artifact>;
}

/** A file input: its bytes are in the blob store, copied or linked read-only where the step reads them. */
export interface FileInput extends FileArtifact {
  /** A local path of the file's bytes (verified), valid for the attempt; read-only. */
  path(): Promise<string>;
  /** The file's bytes (verified). */
  bytes(): Promise<Uint8Array>;
  /**
   * Puts the file at `path` (a new file), verified and read-only: a hard link into the blob directory
   * when it can (no copy), else a copy.
   */
  placeAt(path: string): Promise<void>;
}

/**
 * An input artifact of a step: held whole (`Artifact`: every input of a step that does not stream,
 * batches included, read whole for it), a batch read as a stream, or a file.
 */
export type StepInput = Artifact | BatchInput | FileInput;

/** What a step may return as an output: a payload to hash and store, a batch or file it wrote, or an input passed on. */
export type StepOutput = ArtifactDraft | BatchArtifact | FileArtifact | BatchInput | FileInput;

export interface BatchOptions {
  /** The payload field of the rows (`molecules`), or null when the payload is the list itself. */
  readonly rowsField: string | null;
  /**
   * The other fields of the payload when known at the start; else they are given to `close()` (they
   * are hashed before the rows, so the rows are then read back once to hash).
   */
  readonly header?: JsonObject;
  readonly metadata?: Record<string, JsonValue>;
}

/** Writes a batch output row by row, a chunk at a time into the blob store. */
export interface BatchOutputWriter {
  readonly rowCount: number;
  push(row: JsonValue): Promise<void>;
  pushAll(rows: Iterable<JsonValue> | AsyncIterable<JsonValue>): Promise<void>;
  /** Stores what is left; the result is an output to return. */
  close(header?: JsonObject): Promise<BatchArtifact>;
}

export interface FileOutputOptions {
  /** The name it keeps (default: the source file's base name, or `file`). */
  readonly name?: string;
  readonly metadata?: Record<string, JsonValue>;
}

/** What a step context adds for writing large outputs (see `StepContext`). */
export interface StepDataWriters {
  /** Opens a batch output of `kind`. */
  batch(kind: string, options: BatchOptions): BatchOutputWriter;
  /** Stores a file (a path, relative to the attempt's working directory, or bytes) as a file output. */
  file(kind: string, source: string | Uint8Array, options?: FileOutputOptions): Promise<FileArtifact>;
}
