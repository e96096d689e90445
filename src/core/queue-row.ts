import type { FlowEvent } from './events.js';
import { batchProjection, mergedQueueStatus, OPEN_STATUSES, queueDueAt, rebuiltQueueStatus, type QueueStatus } from './queue-status.js';

/**
 * A flow's row in the flow queue, times in epoch ms. The rules that write it are this file's and
 * `queue-status.ts`'s; the memory store runs them as they are, the SQL stores state them once in SQL
 * (docs/architecture.md, "The queue's rules": which file holds each), and
 * `test/stores/queue-rules.int.test.ts` appends random event sequences to every store and compares
 * every store's rows with these functions' rows.
 */
export interface QueueRow {
  name: string;
  status: QueueStatus;
  /**
   * The log's head: the version of the flow's last event, its type, and its time (`updatedAt`). The
   * memory store keeps them on the row, set by the append of the events; the SQL stores read them from
   * the log (`chemflow_flow_head`), their row holding only what the log cannot give.
   */
  version: number;
  lastEventType: FlowEvent['type'];
  /** When the flow may run next; null once it ended (or failed until a retry). */
  nextDueAt: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  createdAt: string;
  updatedAt: string;
}

/** The lease a flow's first append may take for the process that creates it. */
export interface QueueLease {
  owner: string;
  leaseMs: number;
}

const OPEN: ReadonlySet<QueueStatus> = new Set(OPEN_STATUSES);

/**
 * The row after an append of `batch` (events as stored, versions placed) at `now`, merged with the
 * row the append finds (`queueUpdate` in SQL):
 * - the status is the batch's own (`batchProjection`), except that a cancelled flow stays cancelled
 *   and a failed one failed when every event of the batch is a sibling shard's outcome or a signal
 *   (`mergedQueueStatus`), so that the row is the rebuild's however the log was batched;
 * - the due time: a flow that stays pending, or stays running, keeps its due time (so the indexed
 *   column does not change while it runs) unless it is later than `now` (a coordinator gave the flow
 *   back not due before a retry: `deferredQueueRow`), then it is due now; otherwise it is the merged
 *   status's (`queueDueAt`): a retry's notBefore, the append's `now` if open, else null;
 * - the lease: a new row takes `lease` (the creating process's); an append whose batch ends the flow
 *   (its own status completed or failed) clears it, on a cancelled flow too (the attempt in flight has
 *   recorded its outcome); any other append keeps it, so a cancelled flow's holder sees `cancelled`
 *   at its next heartbeat;
 * - the name and creation time are the first append's.
 */
export function appendedQueueRow(previous: QueueRow | undefined, batch: readonly FlowEvent[], now: number, lease?: QueueLease): QueueRow | undefined {
  const projection = batchProjection(batch);
  const last = batch[batch.length - 1];
  if (projection === undefined || last === undefined) return previous;
  const head = { version: last.version, lastEventType: last.type, updatedAt: projection.lastTs };
  if (previous === undefined)
    return {
      name: projection.name ?? '',
      status: projection.status,
      ...head,
      nextDueAt: queueDueAt(projection.status, last, now),
      leaseOwner: lease?.owner ?? null,
      leaseExpiresAt: lease === undefined ? null : now + lease.leaseMs,
      createdAt: projection.firstTs,
    };
  const status = mergedQueueStatus(previous.status, projection);
  const keepsDue = status === previous.status && (status === 'pending' || status === 'running');
  const ends = projection.status === 'completed' || projection.status === 'failed';
  return {
    ...previous,
    status,
    ...head,
    nextDueAt: keepsDue && previous.nextDueAt !== null ? Math.min(previous.nextDueAt, now) : queueDueAt(status, last, now),
    ...(ends ? { leaseOwner: null, leaseExpiresAt: null } : {}),
  };
}

/**
 * The row rebuilt from the flow's whole log (`chemflow_rebuild_flow_queue` in SQL): the status the
 * appends left (`rebuiltQueueStatus`), due from its last event's time when open (a retry's notBefore
 * when waiting), the lease of the row it replaces kept (a live worker keeps its flow).
 */
export function rebuiltQueueRow(log: readonly FlowEvent[], kept: QueueRow | undefined): QueueRow | undefined {
  const first = log[0];
  const last = log[log.length - 1];
  const status = rebuiltQueueStatus(log, log.some((e) => e.type === 'FlowCancelled'));
  if (first === undefined || last === undefined || status === undefined) return undefined;
  return {
    name: first.type === 'FlowInitialized' ? first.flowName : '',
    status,
    version: last.version,
    lastEventType: last.type,
    nextDueAt: queueDueAt(status, last, Date.parse(last.ts)),
    leaseOwner: kept?.leaseOwner ?? null,
    leaseExpiresAt: kept?.leaseExpiresAt ?? null,
    createdAt: first.ts,
    updatedAt: last.ts,
  };
}

/** Whether a row's lease is free at `now`: none, or expired (its expiry strictly before now). */
export function leaseIsFree(row: Pick<QueueRow, 'leaseOwner' | 'leaseExpiresAt'>, now: number): boolean {
  return row.leaseOwner === null || (row.leaseExpiresAt ?? 0) < now;
}

/** Whether a worker may claim the row at `now`: open, due, its lease free. */
export function isClaimable(row: QueueRow, now: number): boolean {
  return OPEN.has(row.status) && row.nextDueAt !== null && row.nextDueAt <= now && leaseIsFree(row, now);
}

/**
 * The row of a flow its holder gives back not due before `until.at` (its coordinator found nothing to
 * do before a retry's time), when its log is still at `until.version`: an append since then (an
 * item's outcome) may have made something runnable, so the row is left due as it is. The appends that
 * follow make it due at once again (`appendedQueueRow`).
 */
export function deferredQueueRow(row: QueueRow, until: { at: number; version: number }): QueueRow {
  if (row.version !== until.version || !OPEN.has(row.status) || row.nextDueAt === null) return row;
  return { ...row, nextDueAt: Math.max(row.nextDueAt, until.at) };
}

/** A work item's row (the `flow_shards` table), times in epoch ms. */
export interface WorkItemRow {
  kind: 'shard' | 'step';
  /** When it may be claimed; null once closed. */
  dueAt: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
}

/**
 * Whether a work item's flow still lets it be claimed (once due and its lease free): the flow is open
 * (a graph's flow is `pending` between steps), or the item (a graph step or a shard) is of a failed
 * flow and someone held it, so that whoever claims it once its holder's lease expired records the
 * attempt that holder left Running as lost (the flow being failed, no retry of it starts). An item of
 * a failed flow given back or never claimed (no owner) is not.
 */
export function itemFlowLets(item: Pick<WorkItemRow, 'leaseOwner'>, flowStatus: QueueStatus | undefined): boolean {
  if (flowStatus === undefined) return false;
  return OPEN.has(flowStatus) || (flowStatus === 'failed' && item.leaseOwner !== null);
}

/** Whether a worker may claim a work item at `now`: due, its lease free, its flow letting it (`itemFlowLets`). */
export function isItemClaimable(item: WorkItemRow, flowStatus: QueueStatus | undefined, now: number): boolean {
  return item.dueAt !== null && item.dueAt <= now && leaseIsFree(item, now) && itemFlowLets(item, flowStatus);
}

/** Whether `owner` may take the row's lease: free, already its own, or held by `takeOverFrom` (a holder known dead). */
export function mayTakeLease(row: QueueRow, owner: string, now: number, takeOverFrom?: string): boolean {
  return leaseIsFree(row, now) || row.leaseOwner === owner || (takeOverFrom !== undefined && row.leaseOwner === takeOverFrom);
}
