import { chmod, mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isBatchArtifact, isFileArtifact, type Artifact, type BatchArtifact, type FileArtifact, type StoredArtifact } from '../core/artifact.js';
import { BatchHasher, batchPayload, batchShapeOf, isFullManifest } from '../core/batch.js';
import type { JsonObject, JsonValue } from '../core/canonical-json.js';
import { BatchWriter, chunkRowTexts, DEFAULT_CHUNK_LIMITS, type ChunkLimits } from '../core/chunk.js';
import { ArtifactIntegrityError, BlobDirRequiredError } from '../core/errors.js';
import type { BatchInput, BatchOptions, BatchOutputWriter, FileInput, FileOutputOptions, StepInput } from '../core/step-data.js';
import type { BlobStore } from '../stores/blobs/blob-store.js';
import { placeBlob } from './place-file.js';

/**
 * A stored batch as a step reads it: rows streamed from `blobs` chunk by chunk, each chunk verified
 * by the blob store, and the whole batch's hash checked when its last row has been read.
 */
export function batchInputOf(artifact: BatchArtifact, blobs: BlobStore): BatchInput {
  const { manifest } = artifact;
  async function* chunkTexts(): AsyncGenerator<string[]> {
    // A slice (a shard's rows) is hashed row by row from where it starts; a whole batch chunk by chunk.
    const full = isFullManifest(manifest);
    const hasher = new BatchHasher(manifest);
    let skip = manifest.offset ?? 0;
    let left = manifest.rowCount;
    const check = (): void => {
      const actual = left === 0 || full ? hasher.digest() : null;
      if (actual !== artifact.hash) throw new ArtifactIntegrityError(artifact.hash, actual, null, 'manifest');
    };
    for (const [i, ref] of manifest.chunks.entries()) {
      const bytes = await blobs.get(ref.hash).catch((error: unknown) => {
        if (error instanceof ArtifactIntegrityError) throw new ArtifactIntegrityError(artifact.hash, error.actualHash, null, `chunk ${i} (${ref.hash})`);
        throw error;
      });
      let texts = chunkRowTexts(bytes);
      if (texts.length !== ref.rows) throw new ArtifactIntegrityError(artifact.hash, null, null, `chunk ${i} (${texts.length} rows, manifest says ${ref.rows})`);
      if (full) hasher.addChunk(bytes, ref.rows);
      else {
        texts = texts.slice(skip, skip + left);
        skip = 0;
        left -= texts.length;
        for (const text of texts) hasher.addRowText(text);
      }
      // The last chunk's rows are handed over only once the whole batch is known to match its hash.
      if (i === manifest.chunks.length - 1) check();
      yield texts;
    }
    if (manifest.chunks.length === 0) check();
  }
  async function* chunks(): AsyncGenerator<JsonValue[]> {
    for await (const texts of chunkTexts()) yield texts.map((text) => JSON.parse(text) as JsonValue);
  }
  return {
    form: 'batch',
    kind: artifact.kind,
    hash: artifact.hash,
    ...(artifact.metadata === undefined ? {} : { metadata: artifact.metadata }),
    rowsField: manifest.rowsField,
    header: manifest.header,
    rowCount: manifest.rowCount,
    chunks,
    async *rows() {
      for await (const chunk of chunks()) yield* chunk;
    },
    async whole(): Promise<Artifact> {
      const rows: JsonValue[] = [];
      for await (const chunk of chunks()) for (const row of chunk) rows.push(row);
      const payload = batchPayload(manifest, rows);
      return artifact.metadata === undefined
        ? { kind: artifact.kind, hash: artifact.hash, payload }
        : { kind: artifact.kind, hash: artifact.hash, payload, metadata: artifact.metadata };
    },
  };
}

/** A stored file as a step reads it; `path()` copies it (verified) into `workDir` once. */
export function fileInputOf(artifact: FileArtifact, blobs: BlobStore, workDir: () => Promise<string>): FileInput {
  let copied: Promise<string> | undefined;
  return {
    form: 'file',
    kind: artifact.kind,
    hash: artifact.hash,
    size: artifact.size,
    name: artifact.name,
    ...(artifact.metadata === undefined ? {} : { metadata: artifact.metadata }),
    path() {
      copied ??= workDir().then(async (dir) => {
        const target = join(dir, 'inputs', artifact.hash.slice(0, 12), artifact.name);
        await mkdir(join(target, '..'), { recursive: true });
        await blobs.copyTo(artifact.hash, target);
        await chmod(target, 0o444);
        return target;
      });
      return copied;
    },
    bytes: () => blobs.get(artifact.hash),
    placeAt: (target) => placeBlob(artifact.hash, target, blobs),
  };
}

/**
 * Every input as a streaming step gets it: batches as readers, and so is a whole artifact whose payload
 * has one list of rows (small batches are stored whole), so that the step reads rows one way whatever
 * their storage; files as readers; any other whole artifact as it is.
 */
export function streamingInputs(input: readonly StoredArtifact[], blobs: BlobStore, workDir: () => Promise<string>): StepInput[] {
  return input.map((artifact) => {
    if (isBatchArtifact(artifact)) return batchInputOf(artifact, blobs);
    if (isFileArtifact(artifact)) return fileInputOf(artifact, blobs, workDir);
    return wholeBatchInputOf(artifact) ?? artifact;
  });
}

/** A whole artifact with one list of rows, read as a batch held in memory (one chunk); else undefined. */
export function wholeBatchInputOf(artifact: Artifact): BatchInput | undefined {
  const shaped = batchShapeOf(artifact.payload);
  if (shaped === undefined) return undefined;
  const { shape, rows } = shaped;
  return {
    form: 'batch',
    kind: artifact.kind,
    hash: artifact.hash,
    ...(artifact.metadata === undefined ? {} : { metadata: artifact.metadata }),
    rowsField: shape.rowsField,
    header: shape.header,
    rowCount: rows.length,
    // Copies, as a stored batch gives fresh rows: a step that changes a row never changes its input.
    async *chunks() {
      yield await Promise.resolve(structuredClone(rows));
    },
    async *rows() {
      for (const row of rows) yield await Promise.resolve(structuredClone(row));
    },
    whole: () => Promise.resolve(artifact),
  };
}

/** Every input as a step that does not stream gets it: batches read whole, files as readers. */
export async function wholeInputs(input: readonly StoredArtifact[], blobs: BlobStore, workDir: () => Promise<string>): Promise<StepInput[]> {
  const inputs: StepInput[] = [];
  for (const artifact of input)
    inputs.push(isBatchArtifact(artifact) ? await batchInputOf(artifact, blobs).whole() : isFileArtifact(artifact) ? fileInputOf(artifact, blobs, workDir) : artifact);
  return inputs;
}

/** `ctx.batch(kind, options)`: a writer whose chunks go to `blobs`. */
export function openBatchOutput(kind: string, options: BatchOptions, blobs: BlobStore, limits: ChunkLimits = DEFAULT_CHUNK_LIMITS): BatchOutputWriter {
  const writer = new BatchWriter(
    options.rowsField,
    options.header,
    { put: async (bytes, ref) => void (await blobs.put(bytes, ref.hash)), get: (ref) => blobs.get(ref.hash) },
    limits,
  );
  return {
    get rowCount() {
      return writer.rowCount;
    },
    push: (row) => writer.push(row),
    async pushAll(rows) {
      for await (const row of rows) await writer.push(row);
    },
    async close(header?: JsonObject): Promise<BatchArtifact> {
      const { hash, manifest } = await writer.close(header);
      return {
        form: 'batch',
        kind,
        hash,
        manifest,
        ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
      };
    },
  };
}

/** `ctx.file(kind, source)`: stores a file's bytes in `blobs`; a relative path is read from `workDir`. */
export async function storeFileOutput(
  kind: string,
  source: string | Uint8Array,
  options: FileOutputOptions,
  blobs: BlobStore,
  workDir: string,
): Promise<FileArtifact> {
  if (!blobs.keepsFiles) throw new BlobDirRequiredError(blobs.location);
  let stored: { hash: string; size: number };
  if (typeof source === 'string') stored = await blobs.putFile(resolve(workDir, source));
  else stored = { hash: await blobs.put(source), size: source.byteLength };
  const name = options.name ?? (typeof source === 'string' ? basename(source) : 'file');
  return { form: 'file', kind, hash: stored.hash, size: stored.size, name, ...(options.metadata === undefined ? {} : { metadata: options.metadata }) };
}
