import { createArtifact, isBatchArtifact, isWholeArtifact, type Artifact, type StoredArtifact } from './artifact.js';
import type { JsonObject, JsonValue } from './canonical-json.js';
import type { ShardPosition } from './definition.js';
import type { MapSpec } from './map-spec.js';
import { jsonTypeName } from './json-type.js';
import { MapInputError } from './shard-errors.js';

/** One shard's run: its position and the input its `run(ctx)` gets. */
export interface ShardInput<A extends StoredArtifact = StoredArtifact> extends ShardPosition {
  readonly input: readonly (A | Artifact)[];
}

/** How a mapped step's input is split (pure data, the same in every process that computes it). */
export interface ShardPlan<A extends StoredArtifact = StoredArtifact> {
  readonly map: MapSpec;
  /** The step's whole input, as an unsharded run gets it. */
  readonly input: readonly A[];
  /** Position in `input` of the artifact whose `map.over` array is split; every other one goes whole to every shard. */
  readonly splitIndex: number;
  /** Length of the split array. */
  readonly itemCount: number;
  /** In order; never empty (see `shardCount`). */
  readonly shards: readonly ShardInput<A>[];
}

/**
 * `ceil(items / shardSize)` shards, and one (empty) shard for no items: the step then runs once on an
 * empty list, as an unsharded run would, so it still gives its outputs (an empty table, its params
 * echoed...). With no shard at all there would be no outputs to merge, unlike the unsharded run.
 */
export function shardCount(itemCount: number, shardSize: number): number {
  return Math.max(1, Math.ceil(itemCount / shardSize));
}

/**
 * Splits a mapped step's input into shards: shard k gets the same input artifacts, except that the
 * one with the array field `map.over` has that array replaced by items `[k·shardSize, (k+1)·shardSize)`.
 * Throws `MapInputError` (class `Validation`) unless exactly one input artifact has that array field.
 */
export function planShards<A extends StoredArtifact>(input: readonly A[], map: MapSpec): ShardPlan<A> {
  const { splitIndex, items } = locateSplit(input, map.over);
  const count = shardCount(items.length, map.shardSize);
  const shards: ShardInput<A>[] = [];
  for (let index = 0; index < count; index++) shards.push(sliceShard(input, splitIndex, items, map, index, count));
  return { map, input, splitIndex, itemCount: items.length, shards };
}

/**
 * Shard `index` alone, without building the others: what a worker that claimed one shard needs. Equal
 * to `planShards(input, map).shards[index]`.
 */
export function shardAt<A extends StoredArtifact>(input: readonly A[], map: MapSpec, index: number): ShardInput<A> {
  const { splitIndex, items } = locateSplit(input, map.over);
  const count = shardCount(items.length, map.shardSize);
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new RangeError(`shard ${index} does not exist: the input has ${items.length} item(s) in ${count} shard(s)`);
  return sliceShard(input, splitIndex, items, map, index, count);
}

/**
 * Checks that `map` fits the input (exactly one input artifact has the array field `map.over`) without
 * splitting it: throws the `MapInputError` that `planShards` would.
 */
export function checkMapInput(input: readonly StoredArtifact[], map: MapSpec): { splitIndex: number; itemCount: number } {
  const splitIndex = splitIndexOf(input, map.over);
  const split = input[splitIndex] as StoredArtifact;
  // A batch holds its rows field as a list by construction: its row count is the item count.
  if (isBatchArtifact(split)) return { splitIndex, itemCount: split.manifest.rowCount };
  return { splitIndex, itemCount: itemsOf(split as Artifact, map.over).length };
}

function sliceShard<A extends StoredArtifact>(
  input: readonly A[],
  splitIndex: number,
  items: readonly JsonValue[],
  map: MapSpec,
  index: number,
  count: number,
): ShardInput<A> {
  // One shard is the whole input: the same artifacts, not equal copies hashed again.
  if (count === 1) return { index, count, input };
  const whole = input[splitIndex] as Artifact;
  const payload: JsonObject = { ...(whole.payload as JsonObject), [map.over]: items.slice(index * map.shardSize, (index + 1) * map.shardSize) };
  const shard = createArtifact({ kind: whole.kind, payload, ...(whole.metadata === undefined ? {} : { metadata: whole.metadata }) });
  return { index, count, input: input.map((artifact, i) => (i === splitIndex ? shard : artifact)) };
}

/** The split artifact's items: it must be whole (a batch is split by the runtime, without reading it). */
function locateSplit(input: readonly StoredArtifact[], over: string): { splitIndex: number; items: readonly JsonValue[] } {
  const splitIndex = splitIndexOf(input, over);
  const split = input[splitIndex] as StoredArtifact;
  if (!isWholeArtifact(split)) throw new TypeError(`the input ${split.kind} split by map.over is a batch: split it with a manifest slice`);
  return { splitIndex, items: itemsOf(split, over) };
}

/** Whether an input artifact has the field `over`: a whole payload's field, or a batch's rows field. */
function holds(artifact: StoredArtifact, over: string): boolean {
  if (isBatchArtifact(artifact)) return artifact.manifest.rowsField === over;
  return isWholeArtifact(artifact) && fieldOf(artifact.payload, over) !== undefined;
}

/** Position of the one input artifact that has the field `over`; `MapInputError` unless exactly one has it. */
function splitIndexOf(input: readonly StoredArtifact[], over: string): number {
  const holders = input.flatMap((artifact, index) => (holds(artifact, over) ? [index] : []));
  const kinds = input.map((a) => a.kind);
  if (holders.length === 0)
    throw new MapInputError(
      `map.over is ${JSON.stringify(over)}, but no input artifact has a field ${JSON.stringify(over)}; the input is ${describeInput(input)}`,
      over,
      { kinds },
    );
  if (holders.length > 1) {
    const holding = holders.map((i) => input[i]?.kind ?? '?');
    throw new MapInputError(
      `map.over is ${JSON.stringify(over)}, but ${holders.length} input artifacts have that field (${holding.join(', ')}); a mapped step splits exactly one`,
      over,
      { kinds: holding },
    );
  }
  return holders[0] as number;
}

function itemsOf(artifact: Artifact, over: string): readonly JsonValue[] {
  const items = fieldOf(artifact.payload, over);
  if (!Array.isArray(items))
    throw new MapInputError(
      `map.over is ${JSON.stringify(over)}, but that field of ${artifact.kind} is ${jsonTypeName(items)}, not an array`,
      over,
      { kind: artifact.kind },
    );
  return items;
}

function fieldOf(payload: JsonValue, field: string): JsonValue | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  return Object.hasOwn(payload, field) ? payload[field] : undefined;
}

/** `chem/molecules {molecules, source}, chem/rejected-rows {rows, source}` */
function describeInput(input: readonly StoredArtifact[]): string {
  if (input.length === 0) return 'empty';
  return input
    .map((a) => {
      if (isBatchArtifact(a)) {
        const { rowsField, header } = a.manifest;
        return rowsField === null ? `${a.kind} (array)` : `${a.kind} {${[...Object.keys(header), rowsField].sort().join(', ')}}`;
      }
      if (!isWholeArtifact(a)) return `${a.kind} (file)`;
      const p = a.payload;
      const fields = typeof p === 'object' && p !== null && !Array.isArray(p) ? `{${Object.keys(p).sort().join(', ')}}` : `(${jsonTypeName(p)})`;
      return `${a.kind} ${fields}`;
    })
    .join(', ');
}
