import { isBatchArtifact, isWholeArtifact, measureArtifact, type Artifact, type BatchArtifact, type StoredArtifact } from '../core/artifact.js';
import { BatchHasher, batchShapeOf, isFullManifest, sliceManifest, type BatchManifest, type ChunkRef } from '../core/batch.js';
import { canonicalJson } from '../core/canonical-json.js';
import { BATCH_THRESHOLD_BYTES, BatchWriter, chunkRowTexts, DEFAULT_CHUNK_LIMITS } from '../core/chunk.js';
import type { MapSpec } from '../core/map-spec.js';
import { ShardMergeError } from '../core/shard-errors.js';
import { checkShardOutputCounts, mergeOutputDrafts, sameMetadata } from '../core/shard-merge.js';
import { checkMapInput, shardAt, shardCount, type ShardInput } from '../core/shards.js';
import type { BlobStore } from '../stores/blobs/blob-store.js';
import { batchInputOf } from './step-data-io.js';
import { asBatch, type OutputIo } from './step-outputs.js';

/**
 * Shard `index` of a mapped step's input. A whole split artifact is sliced as `shardAt` slices it; a
 * batch becomes a slice manifest of its rows `[index·size, (index+1)·size)` (the chunks covering them
 * and an offset: nothing is copied), hashed by reading those rows only.
 */
export async function shardInputAt(input: readonly StoredArtifact[], map: MapSpec, index: number, blobs: BlobStore): Promise<ShardInput> {
  const { splitIndex, itemCount } = checkMapInput(input, map);
  const split = input[splitIndex] as StoredArtifact;
  if (!isBatchArtifact(split)) return shardAt(input, map, index);
  const count = shardCount(itemCount, map.shardSize);
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new RangeError(`shard ${index} does not exist: the input has ${itemCount} item(s) in ${count} shard(s)`);
  if (count === 1) return { index, count, input };
  const slice = await batchSlice(split, index * map.shardSize, map.shardSize, blobs);
  return { index, count, input: input.map((artifact, i) => (i === splitIndex ? slice : artifact)) };
}

/** Rows `[from, from + count)` of a batch as a batch of its own: a manifest slice, hashed by streaming its rows. */
export async function batchSlice(batch: BatchArtifact, from: number, count: number, blobs: BlobStore): Promise<BatchArtifact> {
  const manifest = sliceManifest(batch.manifest, from, count);
  const hasher = new BatchHasher(manifest);
  let skip = manifest.offset ?? 0;
  let left = manifest.rowCount;
  for (const ref of manifest.chunks) {
    const texts = chunkRowTexts(await blobs.get(ref.hash)).slice(skip, skip + left);
    skip = 0;
    left -= texts.length;
    for (const text of texts) hasher.addRowText(text);
  }
  return { form: 'batch', kind: batch.kind, hash: hasher.digest(), manifest, ...(batch.metadata === undefined ? {} : { metadata: batch.metadata }) };
}

/** The hash of every shard's slice of a batch, in one pass over its chunks, one chunk held at a time. */
async function batchSliceHashes(batch: BatchArtifact, size: number, blobs: BlobStore): Promise<string[]> {
  const hashes: string[] = [];
  const { manifest } = batch;
  let hasher = new BatchHasher(manifest);
  let skip = manifest.offset ?? 0;
  let left = manifest.rowCount;
  let inShard = 0;
  for (const ref of manifest.chunks) {
    const texts = chunkRowTexts(await blobs.get(ref.hash)).slice(skip, skip + left);
    skip = 0;
    left -= texts.length;
    for (const text of texts) {
      hasher.addRowText(text);
      if (++inShard === size) {
        hashes.push(hasher.digest());
        hasher = new BatchHasher(manifest);
        inShard = 0;
      }
    }
  }
  if (inShard > 0 || hashes.length === 0) hashes.push(hasher.digest());
  return hashes;
}

/**
 * The one merge of a mapped step's shards' outputs (in shard order) into the outputs one unsharded run
 * gives, with its hashes (the rules are in src/core/shard-merge.ts): an input passed on by
 * every shard is that input; every shard's own slice of the split artifact is the split artifact;
 * else whole outputs are merged by `mergeOutputDrafts` (written as a batch when large, as an
 * attempt's output is), and batch outputs are the concatenation of the shards' chunk lists, hashed
 * from the chunks in order — a whole shard output among batches is written as a batch first.
 */
export async function mergeStoredShardOutputs(
  input: readonly StoredArtifact[],
  map: MapSpec,
  perShard: readonly (readonly StoredArtifact[])[],
  io: OutputIo,
  options: MergeOptions = {},
): Promise<StoredArtifact[]> {
  // A source that splits its own work has no input to split: its shard count is the log's.
  const splitInput = options.splitsItself === true ? undefined : checkMapInput(input, map);
  checkShardOutputCounts(splitInput === undefined ? perShard.length : shardCount(splitInput.itemCount, map.shardSize), perShard);
  const first = perShard[0] ?? [];
  if (perShard.length === 1) return [...first];
  let sliceHashes: string[] | undefined;
  const ownSlices = async (splitIndex: number): Promise<string[]> => {
    const split = input[splitIndex] as StoredArtifact;
    if (isBatchArtifact(split)) sliceHashes ??= await batchSliceHashes(split, map.shardSize, io.blobs);
    else sliceHashes ??= perShard.map((_, k) => shardAt(input, map, k).input[splitIndex]?.hash ?? '');
    return sliceHashes;
  };
  const merged: StoredArtifact[] = [];
  for (let i = 0; i < first.length; i++) {
    const outputs = perShard.map((o) => o[i] as StoredArtifact);
    const head = outputs[0] as StoredArtifact;
    outputs.forEach((output, shard) => {
      if (output.kind !== head.kind)
        throw new ShardMergeError(`output ${i} (${head.kind}): shard ${shard} gave kind ${output.kind} instead`, i, null, { kinds: outputs.map((o) => o.kind) });
    });
    const splitIndex = splitInput?.splitIndex ?? -1;
    const unchanged = input.find((a, index) => index !== splitIndex && a.kind === head.kind && outputs.every((o) => o.hash === a.hash));
    if (unchanged !== undefined) {
      merged.push(unchanged);
      continue;
    }
    const split = input[splitIndex];
    if (split !== undefined && split.kind === head.kind) {
      const slices = await ownSlices(splitIndex);
      if (outputs.every((o, shard) => o.hash === slices[shard])) {
        merged.push(split);
        continue;
      }
    }
    if (outputs.some((o) => !isWholeArtifact(o) && !isBatchArtifact(o))) {
      // The same file from every shard is that file; different ones have no order to be joined in.
      if (outputs.every((o) => o.hash === head.hash && !isWholeArtifact(o) && !isBatchArtifact(o))) {
        merged.push(head);
        continue;
      }
      throw new ShardMergeError(`output ${i} (${head.kind}): the shards wrote different files; a step whose output is a file cannot be mapped`, i, null);
    }
    if (outputs.every(isWholeArtifact)) {
      const artifact = mergeOutputDrafts(i, outputs);
      const { bytes } = measureArtifact(artifact);
      merged.push(bytes > BATCH_THRESHOLD_BYTES ? ((await asBatch(artifact, io)) ?? artifact) : artifact);
      continue;
    }
    merged.push(await concatenated(i, outputs as readonly (Artifact | BatchArtifact)[], io));
  }
  return merged;
}

/** How a mapped step's shard outputs are merged. */
export interface MergeOptions {
  /**
   * The step is a source that split its own work (`SourceSplit`): there is no split input, and the
   * shard count is the number of shards given (the one its start recorded).
   */
  splitsItself?: boolean;
}

/** Batch outputs of the shards joined: their chunk lists in shard order, no row copied unless it must be. */
async function concatenated(i: number, outputs: readonly (Artifact | BatchArtifact)[], io: OutputIo): Promise<BatchArtifact> {
  const head = outputs.find(isBatchArtifact) as BatchArtifact;
  const where = `output ${i} (${head.kind})`;
  const { rowsField, header } = head.manifest;
  const headerText = canonicalJson(header);
  sameMetadata(i, outputs);
  const chunks: ChunkRef[] = [];
  let rowCount = 0;
  for (const [shard, output] of outputs.entries()) {
    let manifest: BatchManifest;
    if (isBatchArtifact(output)) manifest = output.manifest;
    else {
      const shaped = rowsField === null ? batchShapeOf(output.payload) : batchShapeOf(output.payload, rowsField);
      if (shaped === undefined || shaped.shape.rowsField !== rowsField)
        throw new ShardMergeError(`${where}: shard ${shard} gave a payload without the rows field ${JSON.stringify(rowsField)} of shard 0's batch`, i, rowsField ?? '$');
      manifest = { ...shaped.shape, rowCount: shaped.rows.length, chunks: [] };
    }
    if (manifest.rowsField !== rowsField)
      throw new ShardMergeError(`${where}: shard ${shard} gave rows in field ${JSON.stringify(manifest.rowsField)}, not ${JSON.stringify(rowsField)}`, i, manifest.rowsField ?? '$');
    const differing = Object.keys({ ...header, ...manifest.header }).sort().find((key) => canonicalJson(header[key] ?? null) !== canonicalJson(manifest.header[key] ?? null));
    if (canonicalJson(manifest.header) !== headerText)
      throw new ShardMergeError(
        `${where}: field ${JSON.stringify(differing ?? '$')} differs between shards; a field that is not an array must be the same in every shard, so a step that counts or summarises its batch cannot be mapped`,
        i,
        differing ?? '$',
      );
    if (isBatchArtifact(output) && isFullManifest(manifest)) chunks.push(...manifest.chunks);
    else chunks.push(...(await rewritten(output, rowsField, io)));
    rowCount += manifest.rowCount;
  }
  const manifest: BatchManifest = { rowsField, header, rowCount, chunks };
  const hasher = new BatchHasher(manifest);
  for (const ref of chunks) hasher.addChunk(await io.blobs.get(ref.hash), ref.rows);
  return { form: 'batch', kind: head.kind, hash: hasher.digest(), manifest, ...(head.metadata === undefined ? {} : { metadata: head.metadata }) };
}

/** The rows of a whole output or of a slice, written as chunks of their own (only that shard's rows). */
async function rewritten(output: Artifact | BatchArtifact, rowsField: string | null, io: OutputIo): Promise<readonly ChunkRef[]> {
  const writer = new BatchWriter(rowsField, {}, { put: async (bytes, ref) => void (await io.blobs.put(bytes, ref.hash)) }, io.limits ?? DEFAULT_CHUNK_LIMITS);
  if (isBatchArtifact(output)) for await (const row of batchInputOf(output, io.blobs).rows()) await writer.push(row);
  else {
    const shaped = rowsField === null ? batchShapeOf(output.payload) : batchShapeOf(output.payload, rowsField);
    for (const row of shaped?.rows ?? []) await writer.push(row);
  }
  return (await writer.close()).manifest.chunks;
}
