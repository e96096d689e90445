import type { ShardPosition } from '../../core/definition.js';
import type { ShardCounts } from '../flow-report.js';

/**
 * `shard 3/57`: one shard of a sharded step in text output (`events`, `errors`, progress lines). The
 * index counts from 0, as in the events' `shard`, the error rows' `details.shard` and the engine's own
 * messages, so the number a user reads in a table is the one to look for in the JSON.
 */
export function shardLabel(shard: ShardPosition): string {
  return `shard ${shard.index}/${shard.count}`;
}

/** `12/57` (finished of all), `12/57, 1 failed` when some failed: a sharded step's progress. */
export function shardsDone(counts: ShardCounts): string {
  return `${counts.finished}/${counts.total}${counts.failed > 0 ? `, ${counts.failed} failed` : ''}`;
}

/** `shards 12/57`: the same in a line of text (the progress display). */
export function shardProgress(counts: ShardCounts): string {
  return `shards ${shardsDone(counts)}`;
}
