import { isBatchArtifact, isFileArtifact, measureArtifact, type Artifact, type BatchArtifact, type FileArtifact, type StoredArtifact } from '../core/artifact.js';
import { batchPayload, batchShapeOf } from '../core/batch.js';
import { canonicalJson, type JsonValue } from '../core/canonical-json.js';
import { BATCH_THRESHOLD_BYTES, BatchWriter, decodeChunk, DEFAULT_CHUNK_LIMITS, type ChunkLimits } from '../core/chunk.js';
import { outputSizeProblem } from '../core/output-size.js';
import { assertStorable } from '../core/storable.js';
import type { BlobStore } from '../stores/blobs/blob-store.js';

/** Where an attempt's outputs are written: the store's blobs, cut into chunks at `limits`. */
export interface OutputIo {
  readonly blobs: BlobStore;
  readonly limits?: ChunkLimits;
}

/**
 * What an attempt may return besides payloads to hash: its inputs (by the object it was given, and by
 * hash), and the batches and files it wrote with `ctx.batch` / `ctx.file`.
 */
export class KnownOutputs {
  // Made on first use: most attempts of small steps have no input and write nothing.
  private byObject: Map<object, StoredArtifact> | undefined;
  private byHash: Map<string, StoredArtifact> | undefined;
  private written: Set<string> | undefined;

  /** An input as stored, and the object the step got for it. */
  addInput(given: object, stored: StoredArtifact): void {
    (this.byObject ??= new Map()).set(given, stored);
    (this.byHash ??= new Map()).set(stored.hash, stored);
  }

  /** A batch or file the step wrote. */
  addWritten(artifact: BatchArtifact | FileArtifact): void {
    (this.byHash ??= new Map()).set(artifact.hash, artifact);
    (this.written ??= new Set()).add(artifact.hash);
  }

  /** Whether the step wrote this batch or file itself (not one of its inputs). */
  wasWritten(hash: string): boolean {
    return this.written?.has(hash) ?? false;
  }

  given(output: object): StoredArtifact | undefined {
    return this.byObject?.get(output);
  }

  stored(hash: unknown, form: 'batch' | 'file' | 'whole'): StoredArtifact | undefined {
    const found = typeof hash === 'string' ? this.byHash?.get(hash) : undefined;
    if (found === undefined) return undefined;
    return formOf(found) === form ? found : undefined;
  }
}

function formOf(artifact: StoredArtifact): 'batch' | 'file' | 'whole' {
  return isBatchArtifact(artifact) ? 'batch' : isFileArtifact(artifact) ? 'file' : 'whole';
}

/** A step returned outputs no store can keep: a bug in the step (class Runtime). */
export class InvalidStepOutputError extends Error {
  readonly code = 'INVALID_OUTPUT';
}

/**
 * An attempt's result as stored artifacts. Payloads (`ArtifactDraft`) are hashed; one whose canonical
 * JSON is over `BATCH_THRESHOLD_BYTES` and has one list of rows is written as a batch (the same hash).
 * Batches and files the step wrote, and its inputs passed on, are taken as they are stored: no copy; a
 * small batch the step wrote is kept whole, unless `keepBatches` (a shard's outputs, joined by chunks).
 * The size limit of one attempt's outputs applies to what is held whole.
 */
export async function storedOutputs(result: unknown, known: KnownOutputs, io: OutputIo, { keepBatches = false }: { keepBatches?: boolean } = {}): Promise<StoredArtifact[]> {
  const outputs = (result as { outputs?: unknown } | null | undefined)?.outputs;
  if (!Array.isArray(outputs)) throw new InvalidStepOutputError('A step must return { outputs: [{ kind, payload }] }');
  const sizes: number[] = [];
  const stored: StoredArtifact[] = [];
  for (const [i, output] of (outputs as unknown[]).entries()) {
    if (typeof output === 'object' && output !== null) {
      const given = known.given(output);
      if (given !== undefined) {
        stored.push(given);
        if (!isBatchArtifact(given) && !isFileArtifact(given)) sizes.push(measureArtifact(given).bytes);
        continue;
      }
    }
    const { kind, form, hash } = (output ?? {}) as { kind?: unknown; form?: unknown; hash?: unknown };
    if (typeof kind !== 'string' || kind === '') throw new InvalidStepOutputError(`outputs[${i}].kind must be a non-empty string`);
    if (form === 'batch' || form === 'file') {
      const found = known.stored(hash, form);
      if (found === undefined || found.kind !== kind)
        throw new InvalidStepOutputError(`outputs[${i}] is a ${form} that is neither an input of the step nor written by its ctx.${form}()`);
      const whole = isBatchArtifact(found) && known.wasWritten(found.hash) && !keepBatches ? await asWhole(found, io) : undefined;
      stored.push(whole?.artifact ?? found);
      if (whole !== undefined) sizes.push(whole.bytes);
      continue;
    }
    const draft = await storedDraft(output, i, known, io);
    stored.push(draft.artifact);
    if (draft.bytes !== null) sizes.push(draft.bytes);
  }
  // Too large for a store is refused here, for every store alike, rather than by the database at commit time.
  const tooLarge = outputSizeProblem(sizes);
  if (tooLarge !== undefined) throw tooLarge;
  return stored;
}

/** A payload the step returned: hashed, checked, and written as a batch when large; `bytes` null for a batch. */
async function storedDraft(output: unknown, i: number, known: KnownOutputs, io: OutputIo): Promise<{ artifact: StoredArtifact; bytes: number | null }> {
  const { kind, payload, metadata } = output as { kind: string; payload?: unknown; metadata?: unknown };
  let measured: { artifact: Artifact; bytes: number };
  try {
    if (metadata !== undefined) canonicalJson(metadata);
    measured = measureArtifact({ kind, payload: payload as JsonValue, ...(metadata === undefined ? {} : { metadata: metadata as Record<string, JsonValue> }) });
    assertStorable({ kind, payload, metadata: metadata ?? null });
  } catch (error) {
    throw new InvalidStepOutputError(`outputs[${i}]: ${(error as Error).message}`, { cause: error });
  }
  const { artifact, bytes } = measured;
  // An input passed on as a new payload (a step that does not stream forwards what it was given): the
  // input as it is stored, not a second copy of a batch.
  const input = known.stored(artifact.hash, 'batch') ?? known.stored(artifact.hash, 'whole');
  if (input !== undefined && input.kind === kind && canonicalJson(input.metadata ?? null) === canonicalJson(artifact.metadata ?? null))
    return { artifact: input, bytes: isBatchArtifact(input) ? null : bytes };
  if (bytes <= BATCH_THRESHOLD_BYTES) return { artifact, bytes };
  const batch = await asBatch(artifact, io);
  return batch === undefined ? { artifact, bytes } : { artifact: batch, bytes: null };
}

/**
 * A batch the step wrote that is small enough to keep whole (one chunk of at most
 * `BATCH_THRESHOLD_BYTES`): stored as a payload like any small artifact, with the same hash, so small
 * flows keep readable rows in the database. Its chunks stay in the blob store, named by nothing, until
 * `chemflow gc`.
 */
async function asWhole(batch: BatchArtifact, io: OutputIo): Promise<{ artifact: Artifact; bytes: number } | undefined> {
  const { manifest } = batch;
  if ((manifest.offset ?? 0) !== 0) return undefined;
  const chunkBytes = manifest.chunks.reduce((sum, ref) => sum + ref.bytes, 0);
  if (manifest.chunks.length > 1 || chunkBytes > BATCH_THRESHOLD_BYTES) return undefined;
  const rows: JsonValue[] = [];
  for (const ref of manifest.chunks) for (const row of decodeChunk(await io.blobs.get(ref.hash))) rows.push(row);
  const { artifact, bytes } = measureArtifact({
    kind: batch.kind,
    payload: batchPayload(manifest, rows),
    ...(batch.metadata === undefined ? {} : { metadata: batch.metadata }),
  });
  if (artifact.hash !== batch.hash) throw new Error(`the rows of batch ${batch.kind} hash to ${artifact.hash}, not ${batch.hash}`);
  return { artifact, bytes };
}

/** A large whole artifact written as a batch of its rows, when its payload has one list; the same hash. */
export async function asBatch(artifact: Artifact, io: OutputIo): Promise<BatchArtifact | undefined> {
  const shaped = batchShapeOf(artifact.payload);
  if (shaped === undefined) return undefined;
  const writer = new BatchWriter(
    shaped.shape.rowsField,
    shaped.shape.header,
    { put: async (bytes, ref) => void (await io.blobs.put(bytes, ref.hash)), get: (ref) => io.blobs.get(ref.hash) },
    io.limits ?? DEFAULT_CHUNK_LIMITS,
  );
  for (const row of shaped.rows) await writer.push(row);
  const { hash, manifest } = await writer.close();
  if (hash !== artifact.hash) throw new Error(`a batch written from ${artifact.kind} hashed ${hash}, not ${artifact.hash}`);
  return { form: 'batch', kind: artifact.kind, hash, manifest, ...(artifact.metadata === undefined ? {} : { metadata: artifact.metadata }) };
}
