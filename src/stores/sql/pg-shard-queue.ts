import { type ClaimedShard, type ClaimShardsOptions, type ShardDue, type ShardKey, type ShardQueue, type ShardRow, type WorkItemKind } from '../shard-queue.js';
import { run, type SqlExecutor } from './executor.js';
import { claimShardsQuery, HAS_OPEN_SHARDS_QUERY, listShardsQuery, openShardsQuery, openStepsQuery, releaseShardQuery } from './shard-queries.js';
import { withRetry } from './transient.js';

/** The work-item queue table (migrations/0007_flow_shards, 0013_work_items), PGlite and the PostgreSQL server alike. */
export class PgShardQueue implements ShardQueue {
  constructor(private readonly executor: SqlExecutor) {}

  /** Idempotent: a retry after a lost reply opens the same rows again. */
  async openShards(flowId: string, stepIndex: number, shardCount: number, shards: readonly { index: number; due: ShardDue }[]): Promise<void> {
    if (shards.length === 0) return;
    await withRetry(`open the shards of flow ${flowId}`, () => run(this.executor, openShardsQuery(flowId, stepIndex, shardCount, shards)));
  }

  /** Idempotent, as `openShards`. */
  async openSteps(flowId: string, steps: readonly { index: number; due: ShardDue }[]): Promise<void> {
    if (steps.length === 0) return;
    await withRetry(`open the steps of flow ${flowId}`, () => run(this.executor, openStepsQuery(flowId, steps)));
  }

  /** A claim whose reply was lost and was retried only delays those shards until their lease expires. */
  async claimShards(owner: string, options: ClaimShardsOptions): Promise<ClaimedShard[]> {
    if (options.limit <= 0) return [];
    const rows = await withRetry('claim shards', () =>
      run<{ flow_id: string; step_index: number; shard_index: number; shard_count: number; kind: WorkItemKind }>(
        this.executor,
        claimShardsQuery(owner, options.limit, options.leaseMs, options.flowId, options.skipSteps ?? [], options.kind),
      ),
    );
    return rows.map((r) => ({ flowId: r.flow_id, stepIndex: r.step_index, shardIndex: r.shard_index, shardCount: r.shard_count, kind: r.kind }));
  }

  async hasOpenShards(): Promise<boolean> {
    const rows = await withRetry('look for open shards', () => run<{ open: boolean }>(this.executor, HAS_OPEN_SHARDS_QUERY));
    return rows[0]?.open === true;
  }

  async releaseShard(shard: ShardKey, owner: string, due: ShardDue): Promise<void> {
    await withRetry(`release shard ${shard.shardIndex} of flow ${shard.flowId}`, () => run(this.executor, releaseShardQuery(shard, owner, due)));
  }

  async listShards(flowId: string): Promise<ShardRow[]> {
    const rows = await withRetry(`list the shards of flow ${flowId}`, () =>
      run<{ step_index: number; shard_index: number; kind: WorkItemKind; open: boolean; holder: string | null }>(this.executor, listShardsQuery(flowId)),
    );
    return rows.map((r) => ({ flowId, stepIndex: r.step_index, shardIndex: r.shard_index, kind: r.kind, open: r.open, holder: r.holder }));
  }
}
