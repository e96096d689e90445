import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { FlowLeasedError, FlowNotFoundError } from '../core/errors.js';
import type { FlowEvent } from '../core/events.js';
import type { ClaimFlowsOptions, FlowStore } from '../stores/flow-store.js';
import { systemClock, type Clock } from './clock.js';
import { HeldLeases } from './held-leases.js';
import { Heartbeat } from './heartbeat.js';

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_HEARTBEAT_MS = 10_000;

/** This process's hold on one flow. `signal` aborts when the lease is lost or the flow is cancelled. */
export interface FlowLease {
  readonly flowId: string;
  readonly owner: string;
  readonly signal: AbortSignal;
}

/** A claimed flow's lease, with its log as the claim read it (absent when the claimer must read it). */
export interface ClaimedLease {
  readonly lease: FlowLease;
  readonly events: readonly FlowEvent[] | undefined;
}

export interface LeaseKeeperOptions {
  store: FlowStore;
  /** Who holds the leases (shown in `chemflow flows`); default `host:pid:random`. */
  owner?: string;
  leaseMs?: number;
  heartbeatMs?: number;
  /** Told of each heartbeat: how many leases were renewed and how many were found lost. */
  onHeartbeat?: (renewed: number, lost: number) => void;
  /** The heartbeat's timer and the time a lease is measured by; default the system's. */
  clock?: Clock;
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

/**
 * Holds this process's flow leases and renews them all with one statement per heartbeat (`HeldLeases`:
 * a lease not renewed in time is given up, a cancelled flow's attempt is stopped). Its `beat` is the
 * process's one heartbeat timer: the work-item keeper of the same process renews on it too.
 */
export class LeaseKeeper {
  readonly owner: string;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly clock: Clock;
  /** The process's one heartbeat: this keeper's flow leases and the work-item leases of a `ShardLeaseKeeper` built with it. */
  readonly beat: Heartbeat;
  private readonly store: FlowStore;
  private readonly held: HeldLeases<FlowLease>;

  constructor(options: LeaseKeeperOptions) {
    this.store = options.store;
    this.owner = options.owner ?? defaultLeaseOwner();
    this.leaseMs = Math.max(1, options.leaseMs ?? DEFAULT_LEASE_MS);
    this.heartbeatMs = Math.max(1, Math.min(options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, this.leaseMs));
    this.clock = options.clock ?? systemClock;
    this.beat = new Heartbeat(this.clock, this.heartbeatMs);
    this.held = new HeldLeases<FlowLease>({
      owner: this.owner,
      leaseMs: this.leaseMs,
      heartbeatMs: this.heartbeatMs,
      keyOf: (lease) => lease.flowId,
      renew: (leases) => this.store.renewLeases(this.owner, leases.map((l) => l.flowId), this.leaseMs),
      onHeartbeat: options.onHeartbeat,
      clock: this.clock,
      beat: this.beat,
    });
  }

  /**
   * Leases of runnable flows claimed for this owner (at most `limit`), passing over `skip` (see
   * `ClaimFlowsOptions`), each with the flow's log when the claim returned all of it (up to the
   * claimed row's version), so that running it needs no read of its own.
   */
  async claim(limit: number, skip?: ClaimFlowsOptions['skip']): Promise<ClaimedLease[]> {
    const claimed = await this.store.claimFlows(this.owner, { limit, leaseMs: this.leaseMs, events: true, ...(skip === undefined || skip.length === 0 ? {} : { skip }) });
    return claimed.map((c) => ({ lease: this.hold(c.flowId), events: c.events !== undefined && c.events.at(-1)?.version === c.version ? c.events : undefined }));
  }

  /** The lease of one flow; `FlowLeasedError` if a live process holds it. */
  async acquire(flowId: string): Promise<FlowLease> {
    const existing = this.held.get(flowId);
    if (existing !== undefined) return existing;
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
    return this.held.get(flowId) ?? this.hold(flowId);
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
    return this.held.forget(lease);
  }

  get size(): number {
    return this.held.size;
  }

  /** Stops renewing everything (the leases expire by themselves). */
  close(): void {
    this.held.close();
  }

  /** One heartbeat now (the timer calls it every `heartbeatMs`): flow leases and the work items sharing it. */
  heartbeat(): Promise<void> {
    return this.beat.beat();
  }

  private hold(flowId: string): FlowLease {
    return this.held.hold(flowId, (signal) => ({ flowId, owner: this.owner, signal }));
  }
}
