/**
 * How a step is mapped: its input artifact's array field `over` is split into shards of
 * `shardSize` items, each run by the step's own `run(ctx)`, and their outputs merged in shard order.
 * A scheduling choice only: it never enters a hash, so the same flow with any `shardSize`, or with no
 * `map` at all, has the same fingerprints and artifact hashes (for steps that treat items
 * independently; see docs/chemistry.md for which built-in steps do).
 */
export interface MapSpec {
  /** Name of an array field of the step's input artifact payload, e.g. `molecules`. */
  readonly over: string;
  /** Items per shard: a positive integer. */
  readonly shardSize: number;
}

/** What is wrong with a map spec, in words, or an empty list. */
export function mapSpecProblems(map: MapSpec): string[] {
  const problems: string[] = [];
  if (typeof map.over !== 'string' || map.over === '') problems.push(`map.over must be a non-empty field name, got ${JSON.stringify(map.over)}`);
  if (!Number.isSafeInteger(map.shardSize) || map.shardSize < 1)
    problems.push(`map.shardSize must be a positive integer, got ${String(map.shardSize)}`);
  return problems;
}
