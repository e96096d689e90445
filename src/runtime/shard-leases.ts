import { FlowCancelledError, LeaseLostError } from '../core/error-class.js';
import type { FlowStore } from '../stores/flow-store.js';
import { shardKeyText, type ClaimedShard, type ShardDue } from '../stores/shard-queue.js';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS } from './lease-keeper.js';

/** This process's hold on one shard. `signal` aborts when the lease is lost or the flow is cancelled. */
export interface ShardLease extends ClaimedShard {
  readonly owner: string;
  readonly signal: AbortSignal;
}

interface Held {
  lease: ShardLease;
  controller: AbortController;
}

/**
 * Holds this process's shard leases, as `LeaseKeeper` holds its flow leases (same owner name, lease and
 * heartbeat): one statement per heartbeat renews them all; a shard whose lease could not be renewed in
 * time is given up (another worker may take it over), and one whose flow was cancelled is stopped.
 */
export class ShardLeaseKeeper {
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | null = null;
  private lastRenewal = Date.now();
  private beating = false;

  constructor(
    private readonly store: FlowStore,
    readonly owner: string,
    readonly leaseMs: number = DEFAULT_LEASE_MS,
    private readonly heartbeatMs: number = DEFAULT_HEARTBEAT_MS,
    private readonly onHeartbeat?: (renewed: number, lost: number) => void,
  ) {}

  /** Leases of due shards (of one flow with `flowId`), at most `limit`. */
  async claim(limit: number, flowId?: string): Promise<ShardLease[]> {
    if (limit <= 0) return [];
    const claimed = await this.store.claimShards(this.owner, { limit, leaseMs: this.leaseMs, ...(flowId === undefined ? {} : { flowId }) });
    return claimed.map((c) => this.hold(c));
  }

  /** Gives the shard back, due again as told or closed. A failure to say so only delays it until expiry. */
  async release(lease: ShardLease, due: ShardDue): Promise<void> {
    if (!this.forget(lease)) return;
    await this.store.releaseShard(lease, this.owner, due).catch(() => undefined);
  }

  /** Stops renewing without releasing: the shard becomes claimable when its lease expires. */
  forget(lease: ShardLease): boolean {
    const key = shardKeyText(lease);
    if (this.held.get(key)?.lease !== lease) return false;
    this.held.delete(key);
    if (this.held.size === 0) this.stopTimer();
    return true;
  }

  get size(): number {
    return this.held.size;
  }

  close(): void {
    this.held.clear();
    this.stopTimer();
  }

  /** One heartbeat now (the timer calls it every `heartbeatMs`). */
  async heartbeat(): Promise<void> {
    if (this.beating || this.held.size === 0) return;
    this.beating = true;
    const leases = [...this.held.values()].map((h) => h.lease);
    try {
      const statuses = await this.store.renewShardLeases(this.owner, leases, this.leaseMs);
      this.lastRenewal = Date.now();
      let lost = 0;
      for (const lease of leases) {
        const key = shardKeyText(lease);
        if (this.held.get(key)?.lease !== lease) continue; // released meanwhile
        const status = statuses.get(key);
        if (status === undefined) {
          lost += 1;
          this.abort(key, new LeaseLostError(this.owner));
        } else if (status === 'cancelled') this.abort(key, new FlowCancelledError(null));
      }
      this.onHeartbeat?.(statuses.size, lost);
    } catch {
      // The database is away: until the leases would have expired nobody may take the shards over.
      if (Date.now() - this.lastRenewal >= this.leaseMs) {
        for (const lease of leases) this.abort(shardKeyText(lease), new LeaseLostError(this.owner));
        this.onHeartbeat?.(0, leases.length);
      }
    } finally {
      this.beating = false;
    }
  }

  private hold(claimed: ClaimedShard): ShardLease {
    const controller = new AbortController();
    const lease: ShardLease = { ...claimed, owner: this.owner, signal: controller.signal };
    this.held.set(shardKeyText(claimed), { lease, controller });
    if (this.held.size === 1) this.lastRenewal = Date.now();
    if (this.timer === null) {
      this.timer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
      this.timer.unref();
    }
    return lease;
  }

  private abort(key: string, reason: Error): void {
    const held = this.held.get(key);
    if (held === undefined || held.controller.signal.aborted) return;
    held.controller.abort(reason);
    if (reason instanceof LeaseLostError) this.forget(held.lease);
  }

  private stopTimer(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}
