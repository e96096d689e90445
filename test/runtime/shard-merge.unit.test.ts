// The one merge of a mapped step's shard outputs (`mergeStoredShardOutputs`) on whole artifacts: the
// rules an item-independent step relies on for its hashes, and the disagreements it refuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createArtifact, type Artifact, type ArtifactDraft, type StoredArtifact } from '../../src/core/artifact.js';
import type { JsonValue } from '../../src/core/canonical-json.js';
import { ShardMergeError } from '../../src/core/shard-errors.js';
import { planShards } from '../../src/core/shards.js';
import { mergeStoredShardOutputs } from '../../src/runtime/batch-shards.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';

const set = (items: JsonValue[], extra: Record<string, JsonValue> = {}): Artifact =>
  createArtifact({ kind: 'test/set', payload: { source: 'in.csv', items, ...extra } });
const rejected = createArtifact({ kind: 'test/rejected', payload: { rows: [{ line: 3 }, { line: 9 }] } });
const numbers = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const itemsOf = (artifact: StoredArtifact | undefined): JsonValue | undefined => ((artifact as Artifact | undefined)?.payload as { items?: JsonValue }).items;
const blobs = new MemoryBlobStore();

/**
 * An item-independent step written as the chem steps are: its own table of one row per item, after
 * every input artifact it does not replace, forwarded unchanged (src/steps/step-io.ts `forward`).
 */
function itemwise(input: readonly Artifact[]): ArtifactDraft[] {
  const items = input.flatMap((a) => (a.kind === 'test/set' ? ((a.payload as { items: JsonValue[] }).items) : []));
  const table: ArtifactDraft = { kind: 'test/table', payload: { unit: 'g/mol', rows: items.map((item) => ({ item, size: JSON.stringify(item).length })) } };
  return [...input.map((a) => ({ kind: a.kind, payload: a.payload })), table];
}

/** Drafts as a store keeps them (an attempt's outputs are stored before the merge reads them). */
const stored = (drafts: readonly ArtifactDraft[]): Artifact[] => drafts.map((d) => createArtifact(d));

function merge(input: readonly Artifact[], shardSize: number, outputs: readonly ArtifactDraft[][]): Promise<StoredArtifact[]> {
  return mergeStoredShardOutputs(input, { over: 'items', shardSize }, outputs.map(stored), { blobs });
}

function runSharded(input: readonly Artifact[], shardSize: number, step = itemwise): Promise<StoredArtifact[]> {
  const plan = planShards(input, { over: 'items', shardSize });
  return merge(input, shardSize, plan.shards.map((shard) => step(shard.input as Artifact[])));
}

const hashes = (artifacts: readonly StoredArtifact[]): string[] => artifacts.map((a) => a.hash);
const unsharded = (input: readonly Artifact[], step = itemwise): string[] => hashes(stored(step(input)));

describe('mergeStoredShardOutputs of whole artifacts', () => {
  it('property: an item-independent step gives the unsharded artifacts and hashes for any shard size', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 60 }), fc.integer({ min: 1, max: 70 }), async (items, shardSize) => {
        const input = [set(items as JsonValue[], { tags: ['a', 'b'] }), rejected];
        const merged = await runSharded(input, shardSize);
        expect(hashes(merged)).toEqual(unsharded(input));
        expect(merged.map((a) => a.kind)).toEqual(['test/set', 'test/rejected', 'test/table']);
      }),
    );
  });

  it('takes an artifact forwarded whole by every shard once, and the split artifact (all its fields) once', async () => {
    const input = [set(numbers(7), { tags: ['x'] }), rejected];
    const merged = await runSharded(input, 2);
    expect(merged[0]).toBe(input[0]); // `tags` is not repeated once per shard
    expect(merged[1]).toBe(rejected); // nor are the rejected rows
    expect(((merged[2] as Artifact).payload as { rows: unknown[] }).rows).toHaveLength(7);
  });

  it('concatenates a payload that is an array', async () => {
    const input = [set(numbers(5))];
    const step = (shard: readonly Artifact[]): ArtifactDraft[] => [{ kind: 'test/doubled', payload: (itemsOf(shard[0]) as number[]).map((n) => n * 2) }];
    const merged = await runSharded(input, 2, step);
    expect((merged[0] as Artifact).payload).toEqual([0, 2, 4, 6, 8]);
    expect(merged[0]?.hash).toBe(unsharded(input, step)[0]);
  });

  it('refuses a field that counts the batch, naming it', async () => {
    const counting = (shard: readonly Artifact[]): ArtifactDraft[] => {
      const items = itemsOf(shard[0]) as number[];
      return [{ kind: 'test/summary', payload: { rule: 'even', passed: items.filter((n) => n % 2 === 0).length, verdicts: items.map((n) => n % 2 === 0) } }];
    };
    const error = await runSharded([set(numbers(6))], 4, counting).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ShardMergeError);
    const merge = error as ShardMergeError;
    expect(merge.errorClass).toBe('Validation');
    expect(merge.code).toBe('SHARD_MERGE');
    expect(merge.field).toBe('passed');
    expect(merge.output).toBe(0);
    expect(merge.message).toMatch(/^output 0 \(test\/summary\): field "passed" differs between shards \(shard 0: 2, shard 1: 1\)/);
    expect(merge.details).toEqual({ output: 0, field: 'passed' });
    // The limit of the rule: a count that happens to be equal in every shard cannot be told from a
    // constant (1 per shard here, 3 unsharded), which is why a built-in step that counts its batch
    // refuses `map` at load time (StepModule.notMappable) rather than relying on this check.
    const lucky = await runSharded([set(numbers(5))], 2, counting);
    expect(((lucky[0] as Artifact).payload as { passed: number }).passed).toBe(1);
    expect(lucky[0]?.hash).not.toBe(unsharded([set(numbers(5))], counting)[0]);
  });

  it('refuses shards that disagree on the number, kind, fields or metadata of their outputs', async () => {
    const input = [set(numbers(4))];
    const out = (payload: JsonValue, kind = 'k', metadata?: Record<string, JsonValue>): ArtifactDraft => ({ kind, payload, ...(metadata ? { metadata } : {}) });
    const fails = async (outputs: ArtifactDraft[][], pattern: RegExp): Promise<void> => {
      await expect(merge(input, 2, outputs)).rejects.toThrow(ShardMergeError);
      await expect(merge(input, 2, outputs)).rejects.toThrow(pattern);
    };
    await fails([[out({ a: [] })]], /expected the outputs of 2 shard\(s\), got 1/);
    await fails([[out({ a: [] })], [out({ a: [] }), out({ a: [] })]], /shards gave different numbers of outputs: shard 0 gave 1, shard 1 gave 2/);
    await fails([[out({ a: [] })], [out({ a: [] }, 'other')]], /output 0 \(k\): shard 1 gave kind other instead/);
    await fails([[out({ a: [], b: 1 })], [out({ a: [] })]], /field "b" is in shard 0's payload but not in shard 1's/);
    await fails([[out({ a: [] })], [out({ a: [], c: 1 })]], /field "c" is in shard 1's payload but not in shard 0's/);
    await fails([[out({ a: [1] })], [out({ a: 2 })]], /field "a" is an array in shard 0 but a number in shard 1/);
    await fails([[out({ a: [] })], [out([1])]], /shard 1 gave an array where shard 0 gave an object/);
    await fails([[out('x')], [out('y')]], /field "\$" differs between shards/);
    await fails([[out({ a: [] }, 'k', { n: 1 })], [out({ a: [] }, 'k', { n: 2 })]], /the metadata of shard 1 differs from shard 0's/);
    expect(await merge(input, 2, [[out({ a: [1], u: 'x' }, 'k', { n: 1 })], [out({ a: [2], u: 'x' }, 'k', { n: 1 })]])).toEqual([
      createArtifact({ kind: 'k', payload: { a: [1, 2], u: 'x' }, metadata: { n: 1 } }),
    ]);
  });

  it('hashes the outputs of a single shard as they are', async () => {
    const input = [set(numbers(3)), rejected];
    expect(hashes(await merge(input, 10, [itemwise(input)]))).toEqual(unsharded(input));
  });
});
