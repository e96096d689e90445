import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { FlowCancelledError, LeaseLostError } from '../core/error-class.js';
import { FlowLeasedError, FlowNotFoundError } from '../core/errors.js';
import type { FlowStore } from '../stores/flow-store.js';

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_HEARTBEAT_MS = 10_000;

/** This process's hold on one flow. `signal` aborts when the lease is lost or the flow is cancelled. */
export interface FlowLease {
  readonly flowId: string;
  readonly owner: string;
  readonly signal: AbortSignal;
}

export interface LeaseKeeperOptions {
  store: FlowStore;
  /** Who holds the leases (shown in `chemflow flows`); default `host:pid:random`. */
  owner?: string;
  leaseMs?: number;
  heartbeatMs?: number;
  /** Told of each heartbeat: how many leases were renewed and how many were found lost. */
  onHeartbeat?: (renewed: number, lost: number) => void;
}

export function defaultLeaseOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * Whether `owner` (as `defaultLeaseOwner` names it) is a process of this machine that no longer
 * exists. Only a certain "gone" counts: another host, a live pid (even a reused one) or a name of
 * another form is waited for until its lease expires.
 */
export function isDeadLocalOwner(owner: string): boolean {
  const [host, pidText] = owner.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

interface Held {
  lease: FlowLease;
  controller: AbortController;
}

/**
 * Holds this process's leases and renews them all with one statement per heartbeat. A lease that could
 * not be renewed before it would have expired is given up (its attempt is aborted, since another
 * worker may now take the flow over), and so is a flow found cancelled, so an attempt in flight stops
 * at the next heartbeat after `chemflow cancel`.
 */
export class LeaseKeeper {
  readonly owner: string;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  private readonly store: FlowStore;
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | null = null;
  private lastRenewal = Date.now();
  private beating = false;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.store = options.store;
    this.owner = options.owner ?? defaultLeaseOwner();
    this.leaseMs = Math.max(1, options.leaseMs ?? DEFAULT_LEASE_MS);
    this.heartbeatMs = Math.max(1, Math.min(options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, this.leaseMs));
  }

  /** Leases of runnable flows claimed for this owner (at most `limit`). */
  async claim(limit: number): Promise<FlowLease[]> {
    const claimed = await this.store.claimFlows(this.owner, { limit, leaseMs: this.leaseMs });
    return claimed.map((c) => this.hold(c.flowId));
  }

  /** The lease of one flow; `FlowLeasedError` if a live process holds it. */
  async acquire(flowId: string): Promise<FlowLease> {
    const existing = this.held.get(flowId);
    if (existing !== undefined) return existing.lease;
    const result = await this.store.acquireLease(flowId, this.owner, this.leaseMs);
    if (result.acquired) return this.hold(flowId);
    if (result.reason === 'not_found') throw new FlowNotFoundError(flowId);
    // A holder that was a process of this machine and is gone (a killed `chemflow run`) need not be
    // waited for: `resume` continues at once, as before leases.
    if (isDeadLocalOwner(result.owner)) {
      const taken = await this.store.acquireLease(flowId, this.owner, this.leaseMs, result.owner);
      if (taken.acquired) return this.hold(flowId);
    }
    throw new FlowLeasedError(flowId, result.owner, result.expiresAt);
  }

  /** A lease the store granted with the flow's creation (`AppendOptions.lease`). */
  adopt(flowId: string): FlowLease {
    return this.held.get(flowId)?.lease ?? this.hold(flowId);
  }

  /** Gives the flow back for anyone to claim when due. A failure to say so only delays it until expiry. */
  async release(lease: FlowLease): Promise<void> {
    if (!this.forget(lease)) return;
    await this.store.releaseLease(lease.flowId, this.owner).catch(() => undefined);
  }

  /**
   * Stops renewing without releasing: the flow becomes claimable when the lease expires (for flows
   * this process cannot run now, so that it is not handed straight back to it).
   */
  forget(lease: FlowLease): boolean {
    const held = this.held.get(lease.flowId);
    if (held?.lease !== lease) return false;
    this.held.delete(lease.flowId);
    if (this.held.size === 0) this.stopTimer();
    return true;
  }

  get size(): number {
    return this.held.size;
  }

  /** Stops renewing everything (the leases expire by themselves). */
  close(): void {
    this.held.clear();
    this.stopTimer();
  }

  /** One heartbeat now (the timer calls it every `heartbeatMs`). */
  async heartbeat(): Promise<void> {
    if (this.beating || this.held.size === 0) return;
    this.beating = true;
    const ids = [...this.held.keys()];
    try {
      const statuses = await this.store.renewLeases(this.owner, ids, this.leaseMs);
      this.lastRenewal = Date.now();
      let lost = 0;
      for (const flowId of ids) {
        // Given back or ended meanwhile (an ending append clears the lease): not a loss.
        if (!this.held.has(flowId)) continue;
        const status = statuses.get(flowId);
        if (status === undefined) lost += 1;
        if (status === undefined) this.abort(flowId, new LeaseLostError(this.owner));
        else if (status === 'cancelled') this.abort(flowId, new FlowCancelledError(null));
      }
      this.options.onHeartbeat?.(statuses.size, lost);
    } catch {
      // The database is away. Until the lease would have expired nobody else may take the flows, so
      // the attempts go on; after that, another worker may, so they stop here.
      if (Date.now() - this.lastRenewal >= this.leaseMs) {
        for (const flowId of ids) this.abort(flowId, new LeaseLostError(this.owner));
        this.options.onHeartbeat?.(0, ids.length);
      }
    } finally {
      this.beating = false;
    }
  }

  private hold(flowId: string): FlowLease {
    const controller = new AbortController();
    const lease: FlowLease = { flowId, owner: this.owner, signal: controller.signal };
    this.held.set(flowId, { lease, controller });
    if (this.held.size === 1) this.lastRenewal = Date.now();
    this.startTimer();
    return lease;
  }

  private abort(flowId: string, reason: Error): void {
    const held = this.held.get(flowId);
    if (held === undefined || held.controller.signal.aborted) return;
    held.controller.abort(reason);
    if (reason instanceof LeaseLostError) this.forget(held.lease);
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}
