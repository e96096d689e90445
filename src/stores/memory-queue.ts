import { appendedQueueRow, deferredQueueRow, isClaimable, mayTakeLease, rebuiltQueueRow, type QueueLease, type QueueRow } from '../core/queue-row.js';
import { OPEN_STATUSES, type QueueStatus } from '../core/queue-status.js';
import type { FlowEvent } from '../core/events.js';
import type { ClaimedFlow, ClaimFlowsOptions, FlowQuery, FlowSort, FlowSummary, LeaseAcquisition } from './flow-store.js';

const DEFAULT_LIMIT = 50;
const OPEN: ReadonlySet<QueueStatus> = new Set(OPEN_STATUSES);

interface Row extends QueueRow {
  flowId: string;
  /** Insertion order: ties between equal creation times list the later one first, as flow ids do in SQL. */
  order: number;
}

/**
 * The flow queue of the memory store, on the process's clock: its rows are written, rebuilt, claimed
 * and leased by the queue's rules (src/core/queue-row.ts) and by nothing else.
 */
export class MemoryFlowQueue {
  private readonly rows = new Map<string, Row>();
  /** The rows of open flows, the same objects: what claims and wake-ups look at, as the SQL stores' partial index. */
  private readonly open = new Map<string, Row>();
  private readonly listeners = new Set<() => void>();
  private inserted = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Projects an appended batch onto the flow's row (called by the store inside its append). */
  project(flowId: string, stored: readonly FlowEvent[], lease: QueueLease | undefined): void {
    const row = this.rows.get(flowId);
    const next = appendedQueueRow(row, stored, this.now(), lease);
    if (next === undefined) return;
    this.put(flowId, next, row?.order);
  }

  private put(flowId: string, row: QueueRow, order: number = this.inserted++): void {
    const stored = { ...row, flowId, order };
    this.rows.set(flowId, stored);
    if (OPEN.has(row.status)) this.open.set(flowId, stored);
    else this.open.delete(flowId);
    if (row.leaseOwner === null && OPEN.has(row.status)) this.notify();
  }

  /** `FlowStore.listFlows`; `withErrors`: the flows that have failed attempts of `query.errorClass`. */
  listFlows(query: FlowQuery = {}, withErrors?: ReadonlySet<string>): FlowSummary[] {
    const statuses = query.status !== undefined && query.status.length > 0 ? new Set(query.status) : undefined;
    const order = ORDERS[query.sort ?? 'newest'];
    let rows = [...this.rows.values()]
      .filter(
        (r) =>
          (statuses === undefined || statuses.has(r.status)) &&
          (query.name === undefined || r.name === query.name) &&
          (query.since === undefined || Date.parse(r.createdAt) >= Date.parse(query.since)) &&
          (query.until === undefined || Date.parse(r.createdAt) < Date.parse(query.until)) &&
          (query.errorClass === undefined || withErrors?.has(r.flowId) === true),
      )
      .sort(order);
    if (query.after !== undefined) {
      const cursor = this.rows.get(query.after);
      rows = cursor === undefined ? [] : rows.filter((r) => order(cursor, r) < 0);
    }
    return rows.slice(0, query.limit ?? DEFAULT_LIMIT).map(summary);
  }

  claimFlows(owner: string, options: ClaimFlowsOptions): ClaimedFlow[] {
    const now = this.now();
    const skipped = new Set((options.skip ?? []).map((s) => `${s.flowId}:${s.version}`));
    // The first `limit` claimable rows in due order, kept sorted as they are found.
    const claimable: Row[] = [];
    for (const row of this.open.values()) {
      if (!isClaimable(row, now) || (skipped.size > 0 && skipped.has(`${row.flowId}:${row.version}`))) continue;
      const before = claimable.findIndex((other) => dueOrder(row, other) < 0);
      if (before === -1) {
        if (claimable.length < options.limit) claimable.push(row);
      } else {
        claimable.splice(before, 0, row);
        if (claimable.length > options.limit) claimable.pop();
      }
    }
    for (const row of claimable) Object.assign(row, { leaseOwner: owner, leaseExpiresAt: now + options.leaseMs });
    return claimable.map((r) => ({ flowId: r.flowId, status: r.status, version: r.version }));
  }

  acquireLease(flowId: string, owner: string, leaseMs: number, takeOverFrom?: string): LeaseAcquisition {
    const row = this.rows.get(flowId);
    if (row === undefined) return { acquired: false, reason: 'not_found' };
    const now = this.now();
    if (!mayTakeLease(row, owner, now, takeOverFrom))
      return { acquired: false, reason: 'leased', owner: row.leaseOwner ?? '?', expiresAt: new Date(row.leaseExpiresAt ?? 0).toISOString() };
    Object.assign(row, { leaseOwner: owner, leaseExpiresAt: now + leaseMs });
    return { acquired: true };
  }

  renewLeases(owner: string, flowIds: readonly string[], leaseMs: number): Map<string, QueueStatus> {
    const held = new Map<string, QueueStatus>();
    const now = this.now();
    for (const flowId of flowIds) {
      const row = this.rows.get(flowId);
      if (row?.leaseOwner !== owner) continue;
      row.leaseExpiresAt = now + leaseMs;
      held.set(flowId, row.status);
    }
    return held;
  }

  releaseLease(flowId: string, owner: string, until?: { at: number; version: number }): void {
    const row = this.rows.get(flowId);
    if (row?.leaseOwner !== owner) return;
    Object.assign(row, { leaseOwner: null, leaseExpiresAt: null, ...(until === undefined ? {} : { nextDueAt: deferredQueueRow(row, until).nextDueAt }) });
    if (OPEN.has(row.status)) this.notify();
  }

  nextWakeAt(): number | null {
    let earliest: number | null = null;
    for (const row of this.open.values()) {
      if (row.nextDueAt === null) continue;
      const at = Math.max(row.nextDueAt, row.leaseExpiresAt ?? row.nextDueAt);
      earliest = earliest === null ? at : Math.min(earliest, at);
    }
    return earliest;
  }

  queueDepth(): Record<'pending' | 'running' | 'waiting', number> {
    const depth = { pending: 0, running: 0, waiting: 0 };
    for (const row of this.open.values()) if (row.status === 'pending' || row.status === 'running' || row.status === 'waiting') depth[row.status] += 1;
    return depth;
  }

  /** Rebuilds rows from logs (the memory store's logs are the only source): leases are kept. */
  rebuild(logs: ReadonlyMap<string, readonly FlowEvent[]>, flowId?: string): number {
    let written = 0;
    for (const [id, log] of logs) {
      if (flowId !== undefined && id !== flowId) continue;
      const kept = this.rows.get(id);
      const rebuilt = rebuiltQueueRow(log, kept);
      if (rebuilt !== undefined) this.put(id, rebuilt, kept?.order);
      written += 1;
    }
    return written;
  }

  subscribe(listener: () => void): () => Promise<void> {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      return Promise.resolve();
    };
  }

  /** The queue status of a flow, for claiming its shards (only a running flow's run). */
  /** The flow's name, as its queue row has it. */
  nameOf(flowId: string): string | undefined {
    return this.rows.get(flowId)?.name;
  }

  statusOf(flowId: string): QueueStatus | undefined {
    return this.rows.get(flowId)?.status;
  }

  /** Tells the subscribers that something may have become claimable (e.g. a shard was opened). */
  wake(): void {
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) queueMicrotask(listener);
  }
}

/** Claim order: due first, then the earlier inserted (as `ORDER BY next_due_at` over the SQL stores' index). */
function dueOrder(a: Row, b: Row): number {
  return (a.nextDueAt ?? 0) - (b.nextDueAt ?? 0) || a.order - b.order;
}

function newestFirst(a: Row, b: Row): number {
  return b.createdAt.localeCompare(a.createdAt) || b.order - a.order;
}

const ORDERS: Record<FlowSort, (a: Row, b: Row) => number> = {
  newest: newestFirst,
  oldest: (a, b) => newestFirst(b, a),
  name: (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : newestFirst(a, b)),
};

function summary(row: Row): FlowSummary {
  return queueRowSummary(row.flowId, row);
}

/** A queue row as `listFlows` shows it: times as ISO strings. */
export function queueRowSummary(flowId: string, row: QueueRow): FlowSummary {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    flowId,
    name: row.name,
    status: row.status,
    version: row.version,
    lastEventType: row.lastEventType,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    nextDueAt: iso(row.nextDueAt),
    leaseOwner: row.leaseOwner,
    leaseExpiresAt: iso(row.leaseExpiresAt),
  };
}
