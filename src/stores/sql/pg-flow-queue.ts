import type { QueueStatus } from '../../core/queue-status.js';
import type { ClaimedFlow, ClaimFlowsOptions, FlowQuery, FlowQueue, FlowSummary, LeaseAcquisition } from '../flow-store.js';
import { run, type SqlExecutor } from './executor.js';
import {
  acquireLeaseQuery,
  claimFlowsQuery,
  listFlowsQuery,
  nextWakeQuery,
  QUEUE_CHANNEL_QUERY,
  queueDepthQuery,
  rebuildQueueQuery,
  releaseLeaseQuery,
} from './queue-queries.js';
import { eventFromRow, summaryFromRow, type EventRow, type FlowSummaryRow } from './rows.js';
import type { FlowEvent } from '../../core/events.js';
import { withRetry } from './transient.js';
import { isUuid } from './uuid.js';

/** The flow queue table (migrations/0004_flow_queue), PGlite and the PostgreSQL server alike. */
export class PgFlowQueue implements FlowQueue {
  constructor(private readonly executor: SqlExecutor) {}

  async listFlows(query: FlowQuery = {}): Promise<FlowSummary[]> {
    if (query.after !== undefined && !isUuid(query.after)) return [];
    const rows = await withRetry('list flows', () => run<FlowSummaryRow>(this.executor, listFlowsQuery(query)));
    return rows.map(summaryFromRow);
  }

  /** A claim whose reply was lost and was retried only delays those flows until their lease expires. */
  async claimFlows(owner: string, options: ClaimFlowsOptions): Promise<ClaimedFlow[]> {
    const rows = await withRetry('claim flows', () =>
      run<ClaimRow>(this.executor, claimFlowsQuery(owner, options.limit, options.leaseMs, options.skip ?? [], options.events === true)),
    );
    if (options.events !== true) return rows.map((r) => ({ flowId: r.flow_id, status: r.status, version: r.version }));
    return claimedWithEvents(rows);
  }

  async acquireLease(flowId: string, owner: string, leaseMs: number, takeOverFrom?: string): Promise<LeaseAcquisition> {
    if (!isUuid(flowId)) return { acquired: false, reason: 'not_found' };
    const rows = await withRetry(`lease flow ${flowId}`, () =>
      run<{ lease_owner: string | null; lease_expires_at: string | null; acquired: boolean }>(
        this.executor,
        acquireLeaseQuery(flowId, owner, leaseMs, takeOverFrom),
      ),
    );
    const row = rows[0];
    if (row === undefined) return { acquired: false, reason: 'not_found' };
    if (row.acquired) return { acquired: true };
    return { acquired: false, reason: 'leased', owner: row.lease_owner ?? '?', expiresAt: row.lease_expires_at ?? '?' };
  }

  async releaseLease(flowId: string, owner: string, until?: { at: number; version: number }): Promise<void> {
    await withRetry(`release flow ${flowId}`, () => run(this.executor, releaseLeaseQuery(flowId, owner, until)));
  }

  async nextWakeAt(): Promise<number | null> {
    const rows = await withRetry('read the next due time', () => run<{ wake_at: number | null }>(this.executor, nextWakeQuery()));
    const at = rows[0]?.wake_at;
    return at === null || at === undefined ? null : Number(at);
  }

  async queueDepth(): Promise<Record<'pending' | 'running' | 'waiting', number>> {
    const rows = await withRetry('read the queue depth', () => run<{ status: QueueStatus; n: number }>(this.executor, queueDepthQuery()));
    const depth = { pending: 0, running: 0, waiting: 0 };
    for (const row of rows) if (row.status === 'pending' || row.status === 'running' || row.status === 'waiting') depth[row.status] = row.n;
    return depth;
  }

  async rebuildQueue(flowId?: string): Promise<number> {
    if (flowId !== undefined && !isUuid(flowId)) return 0;
    const rows = await withRetry('rebuild the flow queue', () => run<{ written: number }>(this.executor, rebuildQueueQuery(flowId)));
    return rows[0]?.written ?? 0;
  }

  async subscribe(listener: () => void): Promise<() => Promise<void>> {
    const rows = await withRetry('find the queue channel', () => run<{ channel: string }>(this.executor, QUEUE_CHANNEL_QUERY));
    return this.executor.listen(rows[0]?.channel ?? 'chemflow_queue_public', listener);
  }
}

/** A row of the claim: the claimed flow's columns, with one of its events when the claim returns them. */
export interface ClaimRow {
  flow_id: string;
  status: QueueStatus;
  version: number;
  seq?: EventRow['seq'] | null;
  event_version?: number | null;
  ts?: string | null;
  event_type?: string | null;
  schema_version?: number | null;
  payload?: unknown;
}

/** The claimed flows with their logs; a flow with an event that does not decode is returned without. */
export function claimedWithEvents(rows: readonly ClaimRow[]): ClaimedFlow[] {
  const flows = new Map<string, { claimed: ClaimedFlow; rows: EventRow[] }>();
  for (const row of rows) {
    let entry = flows.get(row.flow_id);
    if (entry === undefined) {
      entry = { claimed: { flowId: row.flow_id, status: row.status, version: row.version }, rows: [] };
      flows.set(row.flow_id, entry);
    }
    if (row.event_version === null || row.event_version === undefined) continue;
    entry.rows.push({
      seq: row.seq ?? 0,
      version: row.event_version,
      ts: row.ts ?? '',
      event_type: row.event_type ?? '',
      schema_version: row.schema_version ?? 0,
      payload: row.payload,
    });
  }
  return [...flows.values()].map(({ claimed, rows: eventRows }) => {
    let events: FlowEvent[];
    try {
      events = eventRows.map((row) => eventFromRow(claimed.flowId, row));
    } catch {
      return claimed; // read again by the claimer, whose read reports the corrupt event
    }
    return { ...claimed, events };
  });
}
