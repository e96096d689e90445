import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createArtifact,
  MapInputError,
  mergeShardOutputs,
  planShards,
  shardAt,
  shardCount,
  ShardMergeError,
  type Artifact,
  type ArtifactDraft,
  type JsonValue,
} from '../../src/index.js';

const set = (items: JsonValue[], extra: Record<string, JsonValue> = {}): Artifact =>
  createArtifact({ kind: 'test/set', payload: { source: 'in.csv', items, ...extra } });
const rejected = createArtifact({ kind: 'test/rejected', payload: { rows: [{ line: 3 }, { line: 9 }] } });
const numbers = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const itemsOf = (artifact: Artifact | undefined): JsonValue | undefined => (artifact?.payload as { items?: JsonValue }).items;

/**
 * An item-independent step written as the chem steps are: its own table of one row per item, after
 * every input artifact it does not replace, forwarded unchanged (src/steps/step-io.ts `forward`).
 */
function itemwise(input: readonly Artifact[]): ArtifactDraft[] {
  const items = input.flatMap((a) => (a.kind === 'test/set' ? ((a.payload as { items: JsonValue[] }).items) : []));
  const table: ArtifactDraft = { kind: 'test/table', payload: { unit: 'g/mol', rows: items.map((item) => ({ item, size: JSON.stringify(item).length })) } };
  return [...input.map((a) => ({ kind: a.kind, payload: a.payload })), table];
}

function runSharded(input: readonly Artifact[], shardSize: number, step = itemwise): Artifact[] {
  const plan = planShards(input, { over: 'items', shardSize });
  return mergeShardOutputs(plan, plan.shards.map((shard) => step(shard.input)));
}

const hashes = (artifacts: readonly Artifact[]): string[] => artifacts.map((a) => a.hash);
const unsharded = (input: readonly Artifact[], step = itemwise): string[] => hashes(step(input).map((d) => createArtifact(d)));

describe('planShards', () => {
  it('splits the array field in order into ceil(n / shardSize) shards, other artifacts whole', () => {
    const input = [set(numbers(10)), rejected];
    const plan = planShards(input, { over: 'items', shardSize: 3 });
    expect(plan.splitIndex).toBe(0);
    expect(plan.itemCount).toBe(10);
    expect(plan.shards.map((s) => [s.index, s.count, itemsOf(s.input[0])])).toEqual([
      [0, 4, [0, 1, 2]],
      [1, 4, [3, 4, 5]],
      [2, 4, [6, 7, 8]],
      [3, 4, [9]],
    ]);
    for (const shard of plan.shards) {
      expect(shard.input[1]).toBe(rejected);
      const slice = shard.input[0] as Artifact;
      expect(slice.kind).toBe('test/set');
      expect((slice.payload as { source: string }).source).toBe('in.csv');
      expect(slice.hash).toBe(createArtifact({ kind: slice.kind, payload: slice.payload }).hash);
    }
  });

  it('keeps metadata on the split artifact', () => {
    const input = [createArtifact({ kind: 'test/set', payload: { items: [1, 2] }, metadata: { note: 'x' } })];
    expect(planShards(input, { over: 'items', shardSize: 1 }).shards[1]?.input[0]?.metadata).toEqual({ note: 'x' });
  });

  it('gives one shard, the input itself, when everything fits, and one empty shard for no items', () => {
    const small = [set(numbers(5))];
    expect(planShards(small, { over: 'items', shardSize: 5 }).shards).toEqual([{ index: 0, count: 1, input: small }]);
    expect(planShards(small, { over: 'items', shardSize: 5 }).shards[0]?.input).toBe(small);
    const empty = [set([]), rejected];
    const plan = planShards(empty, { over: 'items', shardSize: 1000 });
    expect(plan.shards).toHaveLength(1);
    expect(plan.shards[0]?.input).toBe(empty);
    expect(shardCount(0, 1)).toBe(1);
  });

  it('fails Validation when no input artifact, or more than one, has the field, or it is not an array', () => {
    const attempt = (input: Artifact[], over: string): MapInputError => {
      try {
        planShards(input, { over, shardSize: 2 });
      } catch (error) {
        expect(error).toBeInstanceOf(MapInputError);
        return error as MapInputError;
      }
      throw new Error('planShards accepted it');
    };
    const none = attempt([set([1]), rejected], 'molecules');
    expect(none.errorClass).toBe('Validation');
    expect(none.code).toBe('MAP_INPUT');
    expect(none.message).toBe(
      'map.over is "molecules", but no input artifact has a field "molecules"; the input is test/set {items, source}, test/rejected {rows}',
    );
    expect(attempt([], 'items').message).toMatch(/no input artifact has a field "items"; the input is empty$/);
    const both = createArtifact({ kind: 'test/other', payload: { rows: [] } });
    expect(attempt([rejected, both], 'rows').message).toBe(
      'map.over is "rows", but 2 input artifacts have that field (test/rejected, test/other); a mapped step splits exactly one',
    );
    expect(attempt([set([1])], 'source').message).toBe('map.over is "source", but that field of test/set is a string, not an array');
    expect(attempt([createArtifact({ kind: 'test/list', payload: [1, 2] })], 'items').message).toMatch(/test\/list \(an array\)$/);
  });

  it('shardAt builds one shard equal to the planned one, and refuses a shard that does not exist', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 40 }), fc.integer({ min: 1, max: 12 }), (items, shardSize) => {
        const input = [rejected, set(items)];
        const plan = planShards(input, { over: 'items', shardSize });
        plan.shards.forEach((shard, k) => expect(shardAt(input, { over: 'items', shardSize }, k)).toEqual(shard));
        expect(() => shardAt(input, { over: 'items', shardSize }, plan.shards.length)).toThrow(RangeError);
      }),
    );
  });

  it('property: shards cover the items exactly once, in order, each full but the last', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 60 }), fc.integer({ min: 1, max: 25 }), (items, shardSize) => {
        const plan = planShards([set(items as JsonValue[])], { over: 'items', shardSize });
        const sizes = plan.shards.map((s) => (itemsOf(s.input[0]) as JsonValue[]).length);
        expect(plan.shards.length).toBe(Math.max(1, Math.ceil(items.length / shardSize)));
        expect(sizes.slice(0, -1).every((n) => n === shardSize)).toBe(true);
        expect(plan.shards.flatMap((s) => itemsOf(s.input[0]) as JsonValue[])).toEqual(items);
        expect(plan.shards.every((s, k) => s.index === k && s.count === plan.shards.length)).toBe(true);
      }),
    );
  });
});

describe('mergeShardOutputs', () => {
  it('property: an item-independent step gives the unsharded artifacts and hashes for any shard size', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 60 }), fc.integer({ min: 1, max: 70 }), (items, shardSize) => {
        const input = [set(items as JsonValue[], { tags: ['a', 'b'] }), rejected];
        const merged = runSharded(input, shardSize);
        expect(hashes(merged)).toEqual(unsharded(input));
        expect(merged.map((a) => a.kind)).toEqual(['test/set', 'test/rejected', 'test/table']);
      }),
    );
  });

  it('takes an artifact forwarded whole by every shard once, and the split artifact (all its fields) once', () => {
    const input = [set(numbers(7), { tags: ['x'] }), rejected];
    const merged = runSharded(input, 2);
    expect(merged[0]).toBe(input[0]); // `tags` is not repeated once per shard
    expect(merged[1]).toBe(rejected); // nor are the rejected rows
    expect((merged[2]?.payload as { rows: unknown[] }).rows).toHaveLength(7);
  });

  it('concatenates a payload that is an array', () => {
    const input = [set(numbers(5))];
    const step = (shard: readonly Artifact[]): ArtifactDraft[] => [{ kind: 'test/doubled', payload: (itemsOf(shard[0]) as number[]).map((n) => n * 2) }];
    const merged = runSharded(input, 2, step);
    expect(merged[0]?.payload).toEqual([0, 2, 4, 6, 8]);
    expect(merged[0]?.hash).toBe(unsharded(input, step)[0]);
  });

  it('refuses a field that counts the batch, naming it', () => {
    const counting = (shard: readonly Artifact[]): ArtifactDraft[] => {
      const items = itemsOf(shard[0]) as number[];
      return [{ kind: 'test/summary', payload: { rule: 'even', passed: items.filter((n) => n % 2 === 0).length, verdicts: items.map((n) => n % 2 === 0) } }];
    };
    const error = (() => {
      try {
        runSharded([set(numbers(6))], 4, counting);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
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
    const lucky = runSharded([set(numbers(5))], 2, counting);
    expect((lucky[0]?.payload as { passed: number }).passed).toBe(1);
    expect(lucky[0]?.hash).not.toBe(unsharded([set(numbers(5))], counting)[0]);
  });

  it('refuses shards that disagree on the number, kind, fields or metadata of their outputs', () => {
    const input = [set(numbers(4))];
    const plan = planShards(input, { over: 'items', shardSize: 2 });
    const out = (payload: JsonValue, kind = 'k', metadata?: Record<string, JsonValue>): ArtifactDraft => ({ kind, payload, ...(metadata ? { metadata } : {}) });
    const fails = (outputs: ArtifactDraft[][], pattern: RegExp): void => {
      expect(() => mergeShardOutputs(plan, outputs)).toThrow(ShardMergeError);
      expect(() => mergeShardOutputs(plan, outputs)).toThrow(pattern);
    };
    fails([[out({ a: [] })]], /expected the outputs of 2 shard\(s\), got 1/);
    fails([[out({ a: [] })], [out({ a: [] }), out({ a: [] })]], /shards gave different numbers of outputs: shard 0 gave 1, shard 1 gave 2/);
    fails([[out({ a: [] })], [out({ a: [] }, 'other')]], /output 0 \(k\): shard 1 gave kind other instead/);
    fails([[out({ a: [], b: 1 })], [out({ a: [] })]], /field "b" is in shard 0's payload but not in shard 1's/);
    fails([[out({ a: [] })], [out({ a: [], c: 1 })]], /field "c" is in shard 1's payload but not in shard 0's/);
    fails([[out({ a: [1] })], [out({ a: 2 })]], /field "a" is an array in shard 0 but a number in shard 1/);
    fails([[out({ a: [] })], [out([1])]], /shard 1 gave an array where shard 0 gave an object/);
    fails([[out('x')], [out('y')]], /field "\$" differs between shards/);
    fails([[out({ a: [] }, 'k', { n: 1 })], [out({ a: [] }, 'k', { n: 2 })]], /the metadata of shard 1 differs from shard 0's/);
    expect(mergeShardOutputs(plan, [[out({ a: [1], u: 'x' }, 'k', { n: 1 })], [out({ a: [2], u: 'x' }, 'k', { n: 1 })]])).toEqual([
      createArtifact({ kind: 'k', payload: { a: [1, 2], u: 'x' }, metadata: { n: 1 } }),
    ]);
  });

  it('hashes the outputs of a single shard as they are', () => {
    const input = [set(numbers(3)), rejected];
    const plan = planShards(input, { over: 'items', shardSize: 10 });
    expect(hashes(mergeShardOutputs(plan, [itemwise(input)]))).toEqual(unsharded(input));
  });
});
