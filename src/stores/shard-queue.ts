import type { QueueStatus } from '../core/queue-status.js';

/** One shard of a sharded step of a flow. */
export interface ShardKey {
  flowId: string;
  stepIndex: number;
  shardIndex: number;
}

/** A shard a process claimed: it holds the shard's lease until it releases it or stops renewing it. */
export interface ClaimedShard extends ShardKey {
  shardCount: number;
}

/** A shard's row as the queue holds it now. */
export interface ShardRow extends ShardKey {
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
  /** Steps whose shards the claimer cannot run (they need more cores or memory than it has): never claimed. */
  skipSteps?: readonly { flowId: string; stepIndex: number }[];
}

/**
 * The shard queue: the work items of sharded map steps, which any worker may claim (docs/map.md). Like
 * the flow queue it only schedules: whether a shard still has to run is its flow's log's to say (a
 * claimer reads it first), so a row left open by a crash costs one read, never a second run.
 */
export interface ShardQueue {
  /**
   * Makes shards of a Running sharded step claimable (`due` per shard), creating their rows or
   * reopening closed ones; a lease someone holds is kept. Wakes idle workers. A cancelled flow's shards
   * are never due: its rows stay (or become) closed, as the append of its `FlowCancelled` leaves them.
   */
  openShards(flowId: string, stepIndex: number, shardCount: number, shards: readonly { index: number; due: ShardDue }[]): Promise<void>;

  /**
   * Claims up to `limit` due shards whose lease is free or expired, of running flows only (of one flow
   * with `flowId`), skipping rows another claimer holds locked.
   */
  claimShards(owner: string, options: ClaimShardsOptions): Promise<ClaimedShard[]>;

  /** The heartbeat of shard leases: the status of the flow of each shard still held (lost ones are absent). */
  renewShardLeases(owner: string, shards: readonly ShardKey[], leaseMs: number): Promise<Map<string, QueueStatus>>;

  /** Whether a running flow has a shard still to finish (claimable now or later, or held by someone). */
  hasOpenShards(): Promise<boolean>;

  /** Gives a shard back, due again as told (a retry's notBefore) or closed (always, for a cancelled flow). */
  releaseShard(shard: ShardKey, owner: string, due: ShardDue): Promise<void>;

  /** The rows of a flow's shards, by step and shard: whether each is open and who holds it now. */
  listShards(flowId: string): Promise<ShardRow[]>;
}

/** A shard's key as text (`flowId/step/shard`), for maps. */
export function shardKeyText({ flowId, stepIndex, shardIndex }: ShardKey): string {
  return `${flowId}/${stepIndex}/${shardIndex}`;
}
