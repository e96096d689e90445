import type { QueueStatus } from '../core/queue-status.js';
import type { ClaimedFlow } from './flow-store.js';
import type { ClaimedShard, ShardKey } from './shard-queue.js';

/**
 * What a worker claims in one turn: flows to coordinate (their queue rows' leases) and work items to
 * run (shards of mapped steps, graph steps), from the two tables in one statement.
 */
export interface ClaimWorkOptions {
  /** At most this many claims in all: flows first, then items up to what is left. */
  limit: number;
  leaseMs: number;
  /** Also return each claimed flow's events (`ClaimedFlow.events`), as `claimFlows` does. */
  events?: boolean;
  /** Flows passed over at the version given (see `ClaimFlowsOptions.skip`). */
  skipFlows?: readonly { flowId: string; version: number }[];
  /** Steps whose items are never claimed (see `ClaimShardsOptions.skipSteps`). */
  skipSteps?: readonly { flowId: string; stepIndex: number }[];
}

export interface ClaimedWork {
  flows: ClaimedFlow[];
  items: ClaimedShard[];
}

/** The leases a process holds: flows by id, work items by key. */
export interface HeldWork {
  flowIds: readonly string[];
  items: readonly ShardKey[];
}

/**
 * The leases still held after a renewal, each with its flow's queue status (to see a cancellation):
 * flows by id, items by `shardKeyText`. A lease lost is absent.
 */
export interface RenewedWork {
  flows: Map<string, QueueStatus>;
  items: Map<string, QueueStatus>;
}

/**
 * The one queue of a worker: the flow queue and the work-item queue claimed together and renewed
 * together, each with one statement, so that a worker's turn costs one claim and its heartbeat one
 * renewal whatever kinds of lease it holds.
 */
export interface WorkQueue {
  /**
   * Claims up to `limit` due flows (as `claimFlows`) and, with what is left of `limit`, due work items
   * (as `claimShards`, plus the graph steps of a failed flow whose holder's lease expired, so that
   * their lost attempt is recorded); rows another claimer holds locked are passed over.
   */
  claimWork(owner: string, options: ClaimWorkOptions): Promise<ClaimedWork>;

  /** The heartbeat: extends `owner`'s leases of both kinds; returns those still held with their flow's status. */
  renewWork(owner: string, held: HeldWork, leaseMs: number): Promise<RenewedWork>;
}
