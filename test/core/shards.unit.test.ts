import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createArtifact,
  MapInputError,
  planShards,
  shardAt,
  shardCount,
  type Artifact,
  type JsonValue,
} from '../../src/index.js';

const set = (items: JsonValue[], extra: Record<string, JsonValue> = {}): Artifact =>
  createArtifact({ kind: 'test/set', payload: { source: 'in.csv', items, ...extra } });
const rejected = createArtifact({ kind: 'test/rejected', payload: { rows: [{ line: 3 }, { line: 9 }] } });
const numbers = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const itemsOf = (artifact: Artifact | undefined): JsonValue | undefined => (artifact?.payload as { items?: JsonValue }).items;

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
