import { FlowCancelledError, LeaseLostError } from '../core/error-class.js';
import type { QueueStatus } from '../core/queue-status.js';
import type { Clock } from './clock.js';

/** What `HeldLeases` needs to renew its leases. */
export interface LeaseRenewal<L> {
  owner: string;
  leaseMs: number;
  heartbeatMs: number;
  /** The text key of a lease. */
  keyOf: (lease: L) => string;
  /** One statement for all: the status of the flow of each lease still held (lost ones are absent). */
  renew: (leases: readonly L[]) => Promise<Map<string, QueueStatus>>;
  /** Told of each heartbeat: how many leases were renewed and how many were found lost. */
  onHeartbeat?: ((renewed: number, lost: number) => void) | undefined;
  /** The heartbeat's timer and the time a lease is measured by. */
  clock: Clock;
}

interface Held<L> {
  lease: L;
  controller: AbortController;
}

/**
 * The leases this process holds (`LeaseKeeper`'s: flows and work items alike), renewed all at once
 * every heartbeat by one statement, on one timer that runs while anything is held. A lease that could not be renewed
 * before it would have expired is given up (its signal aborts with `LeaseLostError`: another process
 * may take the work over now), and one whose flow was found cancelled aborts with
 * `FlowCancelledError`, so an attempt in flight stops at the next heartbeat after `chemflow cancel`.
 */
export class HeldLeases<L> {
  private readonly held = new Map<string, Held<L>>();
  /** Stops the heartbeat's timer; null while nothing is held. */
  private stopBeating: (() => void) | null = null;
  private lastRenewal: number;
  private beating = false;

  constructor(private readonly renewal: LeaseRenewal<L>) {
    this.lastRenewal = renewal.clock.now();
  }

  /** Holds a new lease made with its signal, and starts the heartbeat if it is the first. */
  hold(key: string, make: (signal: AbortSignal) => L): L {
    const controller = new AbortController();
    const lease = make(controller.signal);
    this.held.set(key, { lease, controller });
    if (this.held.size === 1) {
      this.lastRenewal = this.renewal.clock.now();
      this.stopBeating ??= this.renewal.clock.every(this.renewal.heartbeatMs, () => void this.heartbeat());
    }
    return lease;
  }

  get(key: string): L | undefined {
    return this.held.get(key)?.lease;
  }

  /** Stops renewing `lease` (it expires by itself); false when it is not held (any more). */
  forget(lease: L): boolean {
    const key = this.renewal.keyOf(lease);
    if (this.held.get(key)?.lease !== lease) return false;
    this.held.delete(key);
    if (this.held.size === 0) this.stopTimer();
    return true;
  }

  get size(): number {
    return this.held.size;
  }

  /** Stops renewing everything. */
  close(): void {
    this.held.clear();
    this.stopTimer();
  }

  /** One heartbeat now (the timer calls it every `heartbeatMs`). */
  async heartbeat(): Promise<void> {
    if (this.beating || this.held.size === 0) return;
    this.beating = true;
    const leases = [...this.held.values()].map((h) => h.lease);
    // The database extends the leases from the moment it runs the renewal, after this one: counting
    // from here, this process gives them up no later than the database lets them expire.
    const sent = this.renewal.clock.now();
    try {
      const statuses = await this.renewal.renew(leases);
      this.lastRenewal = sent;
      let lost = 0;
      for (const lease of leases) {
        const key = this.renewal.keyOf(lease);
        // Given back or ended meanwhile (an ending append clears a flow's lease): not a loss.
        if (this.held.get(key)?.lease !== lease) continue;
        const status = statuses.get(key);
        if (status === undefined) {
          lost += 1;
          this.abort(key, new LeaseLostError(this.renewal.owner));
        } else if (status === 'cancelled') this.abort(key, new FlowCancelledError(null));
      }
      this.renewal.onHeartbeat?.(statuses.size, lost);
    } catch {
      // The database is away. Until the leases would have expired nobody else may take the work, so
      // the attempts go on; after that, another process may, so they stop here.
      if (this.renewal.clock.now() - this.lastRenewal >= this.renewal.leaseMs) {
        for (const lease of leases) this.abort(this.renewal.keyOf(lease), new LeaseLostError(this.renewal.owner));
        this.renewal.onHeartbeat?.(0, leases.length);
      }
    } finally {
      this.beating = false;
    }
  }

  private abort(key: string, reason: Error): void {
    const held = this.held.get(key);
    if (held === undefined || held.controller.signal.aborted) return;
    held.controller.abort(reason);
    if (reason instanceof LeaseLostError) this.forget(held.lease);
  }

  private stopTimer(): void {
    this.stopBeating?.();
    this.stopBeating = null;
  }
}
