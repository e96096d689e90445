
/**
 * What a work item is: a shard of a mapped step, or a graph's runnable step as a whole (its row is
 * shard 0 of 1, `kind: 'step'`).
 */
export type WorkItemKind = 'shard' | 'step';

/** One work item of a flow: a shard of a sharded step, or (shard 0) a whole step. */
export interface ShardKey {
  flowId: string;
  stepIndex: number;
  shardIndex: number;
}

/** A shard a process claimed: it holds the shard's lease until it releases it or stops renewing it. */
export interface ClaimedShard extends ShardKey {
  shardCount: number;
  kind: WorkItemKind;
}

/** A shard's row as the queue holds it now. */
export interface ShardRow extends ShardKey {
  kind: WorkItemKind;
  /** Due now or later (claimable then while its flow runs); false once closed. */
  open: boolean;
  /** Who holds its lease, while the lease has not expired; null when it is free. */
  holder: string | null;
}

/** When a shard given back may be claimed again: now or later (epoch ms), or never until reopened. */
export type ShardDue = { at: number } | 'now' | 'closed';

export interface ClaimShardsOptions {
  limit: number;
  leaseMs: number;
  /** Only the shards of this flow. */
  flowId?: string;
  /** Only items of this kind. */
  kind?: WorkItemKind;
  /** Steps whose shards the claimer cannot run (they need more cores or memory than it has): never claimed. */
  skipSteps?: readonly { flowId: string; stepIndex: number }[];
}

/**
 * The work-item queue: the pieces of a flow any worker may claim, the shards of mapped steps
 * (docs/map.md) and a graph's runnable steps (docs/graphs.md). Like the flow queue it only schedules:
 * whether an item still has to run is its flow's log's to say (a claimer reads it first), so a row left
 * open by a crash costs one read, never a second run.
 */
export interface ShardQueue {
  /**
   * Makes shards of a Running sharded step claimable (`due` per shard), creating their rows or
   * reopening closed ones; a lease someone holds is kept. Wakes idle workers. A cancelled flow's shards
   * are never due: its rows stay (or become) closed, as the append of its `FlowCancelled` leaves them.
   */
  openShards(flowId: string, stepIndex: number, shardCount: number, shards: readonly { index: number; due: ShardDue }[]): Promise<void>;

  /**
   * Makes whole steps of a graph flow claimable as work items (`due` per step), creating their rows or
   * reopening closed ones; a lease someone holds is kept. Wakes idle workers. Never due for a
   * cancelled flow, as shards.
   */
  openSteps(flowId: string, steps: readonly { index: number; due: ShardDue }[]): Promise<void>;

  /**
   * Claims up to `limit` due work items (shards and steps) whose lease is free or expired, of open
   * flows only (of one flow with `flowId`), skipping rows another claimer holds locked.
   */
  claimShards(owner: string, options: ClaimShardsOptions): Promise<ClaimedShard[]>;

  /** Whether an open flow has a work item still to finish (claimable now or later, or held by someone). */
  hasOpenShards(): Promise<boolean>;

  /** Gives a shard back, due again as told (a retry's notBefore) or closed (always, for a cancelled flow). */
  releaseShard(shard: ShardKey, owner: string, due: ShardDue): Promise<void>;

  /** The rows of a flow's work items, by step and shard: whether each is open and who holds it now. */
  listShards(flowId: string): Promise<ShardRow[]>;
}

/** A shard's key as text (`flowId/step/shard`), for maps. */
export function shardKeyText({ flowId, stepIndex, shardIndex }: ShardKey): string {
  return `${flowId}/${stepIndex}/${shardIndex}`;
}
