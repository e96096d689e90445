import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { FlowLeasedError, FlowNotFoundError } from '../core/errors.js';
import type { FlowEvent } from '../core/events.js';
import type { QueueStatus } from '../core/queue-status.js';
import type { FlowStore } from '../stores/flow-store.js';
import { shardKeyText, type ClaimedShard, type ShardDue, type WorkItemKind } from '../stores/shard-queue.js';
import type { ClaimWorkOptions } from '../stores/work-queue.js';
import { systemClock, type Clock } from './clock.js';
import { HeldLeases } from './held-leases.js';

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_HEARTBEAT_MS = 10_000;

/** This process's hold on one flow. `signal` aborts when the lease is lost or the flow is cancelled. */
export interface FlowLease {
  readonly flowId: string;
  readonly owner: string;
  readonly signal: AbortSignal;
}

/**
 * This process's hold on one work item: a shard of a mapped step, or a graph step (`kind`). `signal`
 * aborts when the lease is lost or the flow is cancelled.
 */
export interface WorkItemLease extends ClaimedShard {
  readonly owner: string;
  readonly signal: AbortSignal;
}

/** A claimed flow's lease, with its log as the claim read it (absent when the claimer must read it). */
export interface ClaimedLease {
  readonly lease: FlowLease;
  readonly events: readonly FlowEvent[] | undefined;
}

/** What one claim of a worker's turn got: flows to coordinate, work items to run. */
export interface ClaimedWorkLeases {
  flows: ClaimedLease[];
  items: WorkItemLease[];
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

/** A lease this process holds, of either kind. */
type HeldLease = FlowLease | WorkItemLease;

const isItem = (lease: HeldLease): lease is WorkItemLease => 'stepIndex' in lease;
const flowKey = (flowId: string): string => `flow:${flowId}`;
const itemKey = (item: ClaimedShard | WorkItemLease): string => `item:${shardKeyText(item)}`;
const keyOf = (lease: HeldLease): string => (isItem(lease) ? itemKey(lease) : flowKey(lease.flowId));

/**
 * Holds every lease of this process: its flows' (the coordinator's hold: what is runnable, conditions,
 * merges, completion) and its work items' (shards of mapped steps and graph steps, which any worker
 * may run), in one `HeldLeases` renewed by one statement per heartbeat (`renewWork`): a lease not
 * renewed in time is given up, a cancelled flow's attempt is stopped. A worker's turn claims both kinds
 * with one statement (`claimWork`); a coordinator claims its own flow's items with `claimItems`.
 */
export class LeaseKeeper {
  readonly owner: string;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly clock: Clock;
  private readonly store: FlowStore;
  private readonly held: HeldLeases<HeldLease>;

  constructor(options: LeaseKeeperOptions) {
    this.store = options.store;
    this.owner = options.owner ?? defaultLeaseOwner();
    this.leaseMs = Math.max(1, options.leaseMs ?? DEFAULT_LEASE_MS);
    this.heartbeatMs = Math.max(1, Math.min(options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, this.leaseMs));
    this.clock = options.clock ?? systemClock;
    this.held = new HeldLeases<HeldLease>({
      owner: this.owner,
      leaseMs: this.leaseMs,
      heartbeatMs: this.heartbeatMs,
      keyOf,
      renew: (leases) => this.renew(leases),
      onHeartbeat: options.onHeartbeat,
      clock: this.clock,
    });
  }

  /**
   * A worker's turn: up to `limit` leases in one claim, runnable flows first (each with its log when
   * the claim returned all of it, up to the claimed row's version, so that running it needs no read of
   * its own), then due work items of any flow with what is left; passing over `skipFlows` and the
   * items of `skipSteps` (see `ClaimWorkOptions`).
   */
  async claimWork(limit: number, skip: Pick<ClaimWorkOptions, 'skipFlows' | 'skipSteps'> = {}): Promise<ClaimedWorkLeases> {
    if (limit <= 0) return { flows: [], items: [] };
    const claimed = await this.store.claimWork(this.owner, {
      limit,
      leaseMs: this.leaseMs,
      events: true,
      ...(skip.skipFlows === undefined || skip.skipFlows.length === 0 ? {} : { skipFlows: skip.skipFlows }),
      ...(skip.skipSteps === undefined || skip.skipSteps.length === 0 ? {} : { skipSteps: skip.skipSteps }),
    });
    return {
      flows: claimed.flows.map((c) => ({ lease: this.hold(c.flowId), events: c.events !== undefined && c.events.at(-1)?.version === c.version ? c.events : undefined })),
      items: claimed.items.map((c) => this.holdItem(c)),
    };
  }

  /**
   * Leases of due work items only (of one flow with `flowId`, of one `kind`), at most `limit`, never of
   * the steps in `skipSteps`: what a coordinator claims of its own flow's items.
   */
  async claimItems(limit: number, where: { flowId?: string; kind?: WorkItemKind; skipSteps?: readonly { flowId: string; stepIndex: number }[] } = {}): Promise<WorkItemLease[]> {
    if (limit <= 0) return [];
    const claimed = await this.store.claimShards(this.owner, {
      limit,
      leaseMs: this.leaseMs,
      ...(where.flowId === undefined ? {} : { flowId: where.flowId }),
      ...(where.kind === undefined ? {} : { kind: where.kind }),
      ...(where.skipSteps === undefined || where.skipSteps.length === 0 ? {} : { skipSteps: where.skipSteps }),
    });
    return claimed.map((c) => this.holdItem(c));
  }

  /** The lease of one flow; `FlowLeasedError` if a live process holds it. */
  async acquire(flowId: string): Promise<FlowLease> {
    const existing = this.held.get(flowKey(flowId));
    if (existing !== undefined && !isItem(existing)) return existing;
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
    const existing = this.held.get(flowKey(flowId));
    return existing !== undefined && !isItem(existing) ? existing : this.hold(flowId);
  }

  /**
   * Gives the flow back for anyone to claim when due; with `until`, not due before `until.at` while its
   * log is still at `until.version` (nothing to do before a retry's time). A failure to say so only
   * delays it until expiry.
   */
  async release(lease: FlowLease, until?: { at: number; version: number }): Promise<void> {
    if (!this.forget(lease)) return;
    await this.store.releaseLease(lease.flowId, this.owner, until).catch(() => undefined);
  }

  /** Gives a work item back, due again as told or closed. A failure to say so only delays it until expiry. */
  async releaseItem(lease: WorkItemLease, due: ShardDue): Promise<void> {
    if (!this.forget(lease)) return;
    await this.store.releaseShard(lease, this.owner, due).catch(() => undefined);
  }

  /**
   * Stops renewing without releasing: the flow or item becomes claimable when the lease expires (for
   * work this process cannot run now, so that it is not handed straight back to it).
   */
  forget(lease: FlowLease | WorkItemLease): boolean {
    return this.held.forget(lease);
  }

  /** How many leases, of both kinds, are held. */
  get size(): number {
    return this.held.size;
  }

  /** Stops renewing everything (the leases expire by themselves). */
  close(): void {
    this.held.close();
  }

  /** One heartbeat now (the timer calls it every `heartbeatMs`): every lease, one statement. */
  heartbeat(): Promise<void> {
    return this.held.heartbeat();
  }

  private hold(flowId: string): FlowLease {
    return this.held.hold(flowKey(flowId), (signal) => ({ flowId, owner: this.owner, signal }));
  }

  private holdItem(item: ClaimedShard): WorkItemLease {
    const { flowId, stepIndex, shardIndex, shardCount, kind } = item;
    return this.held.hold(itemKey(item), (signal) => ({ flowId, stepIndex, shardIndex, shardCount, kind, owner: this.owner, signal })) as WorkItemLease;
  }

  /** One statement for every lease held: the status of each one's flow, by the leases' keys. */
  private async renew(leases: readonly HeldLease[]): Promise<Map<string, QueueStatus>> {
    const flowIds: string[] = [];
    const items: WorkItemLease[] = [];
    for (const lease of leases) {
      if (isItem(lease)) items.push(lease);
      else flowIds.push(lease.flowId);
    }
    const renewed = await this.store.renewWork(this.owner, { flowIds, items }, this.leaseMs);
    const statuses = new Map<string, QueueStatus>();
    for (const [flowId, status] of renewed.flows) statuses.set(flowKey(flowId), status);
    for (const [key, status] of renewed.items) statuses.set(`item:${key}`, status);
    return statuses;
  }
}
