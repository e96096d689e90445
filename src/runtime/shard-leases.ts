import type { FlowStore } from '../stores/flow-store.js';
import { shardKeyText, type ClaimedShard, type ClaimShardsOptions, type ShardDue, type WorkItemKind } from '../stores/shard-queue.js';
import { systemClock, type Clock } from './clock.js';
import { HeldLeases } from './held-leases.js';
import type { Heartbeat } from './heartbeat.js';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS } from './lease-keeper.js';

/** This process's hold on one shard. `signal` aborts when the lease is lost or the flow is cancelled. */
export interface ShardLease extends ClaimedShard {
  readonly owner: string;
  readonly signal: AbortSignal;
}

/**
 * Holds this process's work-item leases (shards and graph steps), as `LeaseKeeper` holds its flow
 * leases: same owner name, lease, and heartbeat (given its `beat`, the one timer renews both kinds at
 * each tick; `HeldLeases` renews each kind with one statement).
 */
export class ShardLeaseKeeper {
  private readonly held: HeldLeases<ShardLease>;

  constructor(
    private readonly store: FlowStore,
    readonly owner: string,
    readonly leaseMs: number = DEFAULT_LEASE_MS,
    heartbeatMs: number = DEFAULT_HEARTBEAT_MS,
    onHeartbeat?: (renewed: number, lost: number) => void,
    clock: Clock = systemClock,
    beat?: Heartbeat,
  ) {
    this.held = new HeldLeases<ShardLease>({
      owner,
      leaseMs,
      heartbeatMs,
      keyOf: shardKeyText,
      renew: (leases) => store.renewShardLeases(owner, leases, leaseMs),
      onHeartbeat,
      clock,
      beat,
    });
  }

  /** Leases of due work items (of one flow with `flowId`, of one `kind`), at most `limit`, never of the steps in `skipSteps`. */
  async claim(limit: number, flowId?: string, skipSteps?: ClaimShardsOptions['skipSteps'], kind?: WorkItemKind): Promise<ShardLease[]> {
    if (limit <= 0) return [];
    const claimed = await this.store.claimShards(this.owner, {
      limit,
      leaseMs: this.leaseMs,
      ...(flowId === undefined ? {} : { flowId }),
      ...(kind === undefined ? {} : { kind }),
      ...(skipSteps === undefined || skipSteps.length === 0 ? {} : { skipSteps }),
    });
    return claimed.map((c) => this.held.hold(shardKeyText(c), (signal) => ({ ...c, owner: this.owner, signal })));
  }

  /** Gives the shard back, due again as told or closed. A failure to say so only delays it until expiry. */
  async release(lease: ShardLease, due: ShardDue): Promise<void> {
    if (!this.forget(lease)) return;
    await this.store.releaseShard(lease, this.owner, due).catch(() => undefined);
  }

  /** Stops renewing without releasing: the shard becomes claimable when its lease expires. */
  forget(lease: ShardLease): boolean {
    return this.held.forget(lease);
  }

  get size(): number {
    return this.held.size;
  }

  close(): void {
    this.held.close();
  }

  /** One heartbeat now (the timer calls it every `heartbeatMs`). */
  heartbeat(): Promise<void> {
    return this.held.heartbeat();
  }
}
