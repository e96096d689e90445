import { batchProjection, mergedQueueStatus, OPEN_STATUSES, queueDueAt, rebuiltQueueStatus, type QueueStatus } from '../core/queue-status.js';
import type { FlowEvent } from '../core/events.js';
import type { ClaimedFlow, ClaimFlowsOptions, FlowQuery, FlowSummary, LeaseAcquisition } from './flow-store.js';

const DEFAULT_LIMIT = 50;
const OPEN: ReadonlySet<QueueStatus> = new Set(OPEN_STATUSES);

interface Row {
  flowId: string;
  name: string;
  status: QueueStatus;
  version: number;
  lastEventType: FlowEvent['type'];
  nextDueAt: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  createdAt: string;
  updatedAt: string;
  /** Insertion order: ties between equal creation times list the later one first, as flow ids do in SQL. */
  order: number;
}

/**
 * The flow queue of the memory store: the same projection and lease rules as the SQL table of
 * migrations/0004_flow_queue, on the process's clock.
 */
export class MemoryFlowQueue {
  private readonly rows = new Map<string, Row>();
  private readonly listeners = new Set<() => void>();
  private inserted = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Projects an appended batch onto the flow's row (called by the store inside its append). */
  project(flowId: string, stored: readonly FlowEvent[], lease: { owner: string; leaseMs: number } | undefined): void {
    const last = stored[stored.length - 1];
    const projection = batchProjection(stored);
    if (last === undefined || projection === undefined) return;
    const previous = this.rows.get(flowId)?.status;
    // Merged as QUEUE_MERGE does in SQL: a cancelled flow stays cancelled, a failed one failed.
    this.write(flowId, stored, lease, previous === 'cancelled' ? 'cancelled' : mergedQueueStatus(previous, projection.status, last));
  }

  /** Writes the flow's row for `stored` (its appended batch, or its whole log) ending in `status`. */
  private write(flowId: string, stored: readonly FlowEvent[], lease: { owner: string; leaseMs: number } | undefined, status: QueueStatus): void {
    const last = stored[stored.length - 1];
    if (last === undefined) return;
    const row = this.rows.get(flowId);
    const now = this.now();
    const first = stored[0];
    const next: Row = row ?? {
      flowId,
      name: first?.type === 'FlowInitialized' ? first.flowName : '',
      status,
      version: 0,
      lastEventType: last.type,
      nextDueAt: null,
      leaseOwner: lease?.owner ?? null,
      leaseExpiresAt: lease === undefined ? null : now + lease.leaseMs,
      createdAt: first?.ts ?? last.ts,
      updatedAt: last.ts,
      order: this.inserted++,
    };
    Object.assign(next, { status, version: last.version, lastEventType: last.type, nextDueAt: queueDueAt(status, last, now), updatedAt: last.ts });
    // The append that ends a flow clears its lease, as the SQL statement does.
    if (status === 'completed' || status === 'failed') Object.assign(next, { leaseOwner: null, leaseExpiresAt: null });
    this.rows.set(flowId, next);
    if (next.leaseOwner === null && OPEN.has(status)) this.notify();
  }

  listFlows(query: FlowQuery = {}): FlowSummary[] {
    const statuses = query.status !== undefined && query.status.length > 0 ? new Set(query.status) : undefined;
    let rows = [...this.rows.values()]
      .filter((r) => (statuses === undefined || statuses.has(r.status)) && (query.name === undefined || r.name === query.name))
      .sort(newestFirst);
    if (query.after !== undefined) {
      const cursor = this.rows.get(query.after);
      rows = cursor === undefined ? [] : rows.filter((r) => newestFirst(cursor, r) < 0);
    }
    return rows.slice(0, query.limit ?? DEFAULT_LIMIT).map(summary);
  }

  claimFlows(owner: string, options: ClaimFlowsOptions): ClaimedFlow[] {
    const now = this.now();
    const skipped = new Set((options.skip ?? []).map((s) => `${s.flowId}:${s.version}`));
    const claimable = [...this.rows.values()]
      .filter((r) => this.isClaimable(r, now) && !skipped.has(`${r.flowId}:${r.version}`))
      .sort((a, b) => (a.nextDueAt ?? 0) - (b.nextDueAt ?? 0) || a.order - b.order)
      .slice(0, options.limit);
    for (const row of claimable) Object.assign(row, { leaseOwner: owner, leaseExpiresAt: now + options.leaseMs });
    return claimable.map((r) => ({ flowId: r.flowId, status: r.status, version: r.version }));
  }

  acquireLease(flowId: string, owner: string, leaseMs: number, takeOverFrom?: string): LeaseAcquisition {
    const row = this.rows.get(flowId);
    if (row === undefined) return { acquired: false, reason: 'not_found' };
    const now = this.now();
    if (row.leaseOwner !== null && row.leaseOwner !== owner && row.leaseOwner !== takeOverFrom && (row.leaseExpiresAt ?? 0) >= now)
      return { acquired: false, reason: 'leased', owner: row.leaseOwner, expiresAt: new Date(row.leaseExpiresAt ?? 0).toISOString() };
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

  releaseLease(flowId: string, owner: string): void {
    const row = this.rows.get(flowId);
    if (row?.leaseOwner !== owner) return;
    Object.assign(row, { leaseOwner: null, leaseExpiresAt: null });
    if (OPEN.has(row.status)) this.notify();
  }

  nextWakeAt(): number | null {
    let earliest: number | null = null;
    for (const row of this.rows.values()) {
      if (!OPEN.has(row.status) || row.nextDueAt === null) continue;
      const at = Math.max(row.nextDueAt, row.leaseExpiresAt ?? row.nextDueAt);
      earliest = earliest === null ? at : Math.min(earliest, at);
    }
    return earliest;
  }

  queueDepth(): Record<'pending' | 'running' | 'waiting', number> {
    const depth = { pending: 0, running: 0, waiting: 0 };
    for (const row of this.rows.values()) if (row.status === 'pending' || row.status === 'running' || row.status === 'waiting') depth[row.status] += 1;
    return depth;
  }

  /** Rebuilds rows from logs (the memory store's logs are the only source): leases are kept. */
  rebuild(logs: ReadonlyMap<string, readonly FlowEvent[]>, flowId?: string): number {
    let written = 0;
    for (const [id, log] of logs) {
      if (flowId !== undefined && id !== flowId) continue;
      const kept = this.rows.get(id);
      this.rows.delete(id);
      const status = rebuiltQueueStatus(log, log.some((e) => e.type === 'FlowCancelled'));
      if (status !== undefined) this.write(id, log, undefined, status);
      const rebuilt = this.rows.get(id);
      if (rebuilt !== undefined && kept !== undefined)
        Object.assign(rebuilt, { leaseOwner: kept.leaseOwner, leaseExpiresAt: kept.leaseExpiresAt, order: kept.order });
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
  statusOf(flowId: string): QueueStatus | undefined {
    return this.rows.get(flowId)?.status;
  }

  private isClaimable(row: Row, now: number): boolean {
    return (
      OPEN.has(row.status) &&
      row.nextDueAt !== null &&
      row.nextDueAt <= now &&
      (row.leaseOwner === null || (row.leaseExpiresAt ?? 0) < now)
    );
  }

  /** Tells the subscribers that something may have become claimable (e.g. a shard was opened). */
  wake(): void {
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) queueMicrotask(listener);
  }
}

function newestFirst(a: Row, b: Row): number {
  return b.createdAt.localeCompare(a.createdAt) || b.order - a.order;
}

function summary(row: Row): FlowSummary {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    flowId: row.flowId,
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
