// Slicing a batch input into shards and merging the shards' outputs, whole and batch mixed.
import { describe, expect, it } from 'vitest';
import { createArtifact, isBatchArtifact, type BatchArtifact, type StoredArtifact } from '../../src/core/artifact.js';
import { batchHashOf } from '../../src/core/batch.js';
import type { JsonValue } from '../../src/core/canonical-json.js';
import { ShardMergeError } from '../../src/core/shard-errors.js';
import { mergeStoredShardOutputs, shardInputAt } from '../../src/runtime/batch-shards.js';
import { batchInputOf, openBatchOutput } from '../../src/runtime/step-data-io.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';

const items = Array.from({ length: 10 }, (_, i) => ({ i }));
const map = { over: 'items', shardSize: 4 };

async function batch(blobs: MemoryBlobStore, kind: string, rows: readonly JsonValue[], header: Record<string, JsonValue>, rowsField = 'items'): Promise<BatchArtifact> {
  const writer = openBatchOutput(kind, { rowsField, header }, blobs, { maxRows: 3, maxBytes: 1 << 20 });
  await writer.pushAll(rows);
  return writer.close();
}

async function rowsOf(artifact: BatchArtifact, blobs: MemoryBlobStore): Promise<JsonValue[]> {
  const rows: JsonValue[] = [];
  for await (const row of batchInputOf(artifact, blobs).rows()) rows.push(row);
  return rows;
}

describe('the shards of a batch input', () => {
  it('are slices of its chunks, hashed as the payloads of their rows, read without the rest', async () => {
    const blobs = new MemoryBlobStore();
    const input = await batch(blobs, 'test/set', items, { source: 's' });
    const shards = await Promise.all([0, 1, 2].map((k) => shardInputAt([input], map, k, blobs)));
    for (const [k, shard] of shards.entries()) {
      const slice = shard.input[0] as BatchArtifact;
      const expected = items.slice(k * 4, (k + 1) * 4);
      expect(slice.hash).toBe(createArtifact({ kind: 'test/set', payload: { source: 's', items: expected } }).hash);
      expect(await rowsOf(slice, blobs)).toEqual(expected);
      expect(shard).toMatchObject({ index: k, count: 3 });
    }
    // Rows 4..7 lie in chunks 1 and 2 (rows 3..5, 6..8): only those are named.
    expect((shards[1]?.input[0] as BatchArtifact).manifest).toMatchObject({ offset: 1, rowCount: 4, chunks: input.manifest.chunks.slice(1, 3) });
  });

  it('merge a batch output from shards that gave it whole or as a batch, and their own slices passed on as the input', async () => {
    const blobs = new MemoryBlobStore();
    const input = await batch(blobs, 'test/set', items, { source: 's' });
    const perShard: StoredArtifact[][] = [];
    for (let k = 0; k < 3; k++) {
      const slice = (await shardInputAt([input], map, k, blobs)).input[0] as StoredArtifact;
      const rows = items.slice(k * 4, (k + 1) * 4).map(({ i }) => ({ i, sq: i * i }));
      const out = k === 1 ? createArtifact({ kind: 'test/out', payload: { unit: 'u', rows } }) : await batch(blobs, 'test/out', rows, { unit: 'u' }, 'rows');
      perShard.push([slice, out]);
    }
    const [set, out] = await mergeStoredShardOutputs([input], map, perShard, { blobs });
    expect(set).toBe(input);
    if (out === undefined || !isBatchArtifact(out)) throw new Error('not a batch');
    const all = items.map(({ i }) => ({ i, sq: i * i }));
    expect(out.hash).toBe(batchHashOf({ rowsField: 'rows', header: { unit: 'u' } }, all));
    expect(await rowsOf(out, blobs)).toEqual(all);
    // Shards 0 and 2 joined as they are, shard 1's whole rows written as one chunk between them.
    expect(out.manifest.chunks.map((c) => c.rows)).toEqual([3, 1, 4, 2]);
  });

  it('refuse to merge batches whose other fields differ between shards', async () => {
    const blobs = new MemoryBlobStore();
    const input = await batch(blobs, 'test/set', items, { source: 's' });
    const perShard = await Promise.all([0, 1, 2].map(async (k) => [await batch(blobs, 'test/out', [{ k }], { count: k === 2 ? 2 : 1 }, 'rows')]));
    const error = await mergeStoredShardOutputs([input], map, perShard, { blobs }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardMergeError);
    expect((error as Error).message).toContain('field "count" differs between shards');
  });
});
