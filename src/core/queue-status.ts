import type { FlowEvent } from './events.js';
import { ENDED_STATUSES, type EndedFlowStatus } from './flow-state.js';

/**
 * The status of a flow's row in the flow queue while a worker may claim it (a `running` one only when
 * its lease is free or expired): `pending` (due now), `running` (its last event started or ran an
 * attempt), `waiting` (a retry is due later).
 */
export type OpenQueueStatus = 'pending' | 'running' | 'waiting';

/**
 * A flow's row in the flow queue: what a worker or a listing needs without replaying its log. Once the
 * flow ended, the row's status is the flow's own (`EndedFlowStatus`); while it is open, the row says
 * whether it is due (`OpenQueueStatus`), which the flow's status (`pending` until its first attempt starts,
 * then `running`) does not.
 */
export type QueueStatus = OpenQueueStatus | EndedFlowStatus;

/** Statuses a worker may claim. */
export const OPEN_STATUSES: readonly OpenQueueStatus[] = ['pending', 'running', 'waiting'];

export const QUEUE_STATUSES: readonly QueueStatus[] = [...OPEN_STATUSES, ...ENDED_STATUSES];

/**
 * The status of a flow whose last event is `last`: the log's state machine makes it a function of that
 * event alone (a retry is always appended with its failure, a last step's StepFinished with
 * FlowCompleted), plus whether the flow was ever cancelled, which is final. Every store's appends use
 * it (`batchProjection`); the SQL rebuild applies the same rule as `chemflow_queue_status` (its current
 * definition: migrations/0014_on_failure); test/stores/queue-rules.int.test.ts checks that they agree.
 * One exception, kept by the append's merge and the rebuild: `mergedQueueStatus`, `rebuiltQueueStatus`.
 */
export function queueStatusAfter(last: FlowEvent, wasCancelled: boolean): QueueStatus {
  if (wasCancelled) return 'cancelled';
  // An outcome says whether it leaves the flow failed where its type does not (`withFlowOutcomes`): a
  // step ended after which nothing can run while a step is Failed (a branch in flight after a failure;
  // the last branch of a flow whose onFailure is continue), or, in such a flow, a step failed while
  // others still run or may start, which leaves the flow due as a StepFinished does (migration 0014).
  if ('flowFailed' in last && last.flowFailed === true) return 'failed';
  if (last.type === 'StepFailed' && last.flowFailed === false) return 'pending';
  // A shard's event leaves its flow running (the step runs until its shards are merged); only a
  // shard's failure with no retry after it fails the flow, as a step's does (migration 0007).
  if ('shard' in last && last.shard !== undefined)
    return last.type === 'StepFailed' ? 'failed' : 'running';
  switch (last.type) {
    case 'FlowCancelled':
      return 'cancelled';
    case 'FlowInitialized':
    case 'StepFinished':
    case 'StepSkipped':
      return 'pending';
    case 'StepStarted':
    case 'StepSignal':
      return 'running';
    case 'StepFailed':
      return 'failed';
    case 'RetryScheduled':
      return Date.parse(last.notBefore) > Date.parse(last.ts) ? 'waiting' : 'pending';
    case 'FlowCompleted':
      return 'completed';
  }
}

/**
 * The status an append of a batch projected as `next` leaves on a flow's row that had `previous`: a
 * cancelled flow stays cancelled whatever is recorded after the cancel, and a failed flow stays failed
 * when every event of the batch keeps it failed (a sibling shard's outcome recorded after a shard failed
 * for good, a signal). One other event in the batch (a retry, a shard's StepStarted) makes the batch's
 * own status the row's, wherever it stands in the batch: so the row does not depend on how the log was
 * batched, and is the one `rebuiltQueueStatus` derives from the log (`queueUpdate` does the same in SQL).
 */
export function mergedQueueStatus(previous: QueueStatus | undefined, next: Pick<QueueProjection, 'status' | 'keepsFailed'>): QueueStatus {
  if (previous === 'cancelled') return 'cancelled';
  if (previous === 'failed' && next.keepsFailed) return 'failed';
  return next.status;
}

/** Whether `event`, leaving its flow in `next`, keeps a failed flow failed: a shard's outcome, a signal. */
function keepsFailed(next: QueueStatus, event: FlowEvent): boolean {
  return next === 'running' && (event.type === 'StepFinished' || event.type === 'StepSignal');
}

/**
 * The status the appends of `log` left on its flow's row, from the log alone (the queue's rebuild): the
 * status after its last event, except that after outcomes that keep a failed flow failed (a sibling
 * shard's, recorded after a shard failed for good) the flow is failed if the latest other event left
 * it failed (a StepFailed, or an outcome marked `flowFailed`). `chemflow_rebuild_flow_queue` applies
 * the same rule (its current definition: migrations/0015_queue_row_on_change).
 */
export function rebuiltQueueStatus(log: readonly FlowEvent[], wasCancelled: boolean): QueueStatus | undefined {
  const last = log[log.length - 1];
  return last === undefined ? undefined : statusLookingBack(log, last, wasCancelled);
}

function statusLookingBack(log: readonly FlowEvent[], last: FlowEvent, wasCancelled: boolean): QueueStatus {
  const status = queueStatusAfter(last, wasCancelled);
  if (!keepsFailed(status, last)) return status;
  for (let i = log.length - 2; i >= 0; i--) {
    const event = log[i] as FlowEvent;
    const before = queueStatusAfter(event, false);
    if (!keepsFailed(before, event)) return before === 'failed' ? 'failed' : status;
  }
  return status;
}

/**
 * When a flow in `status` may run next (epoch ms): a retry's notBefore, `since` if open, else null.
 * In SQL: `chemflow_queue_due` (its current definition: migrations/0009_queue_due_inline).
 */
export function queueDueAt(status: QueueStatus, last: FlowEvent, since: number): number | null {
  if (status === 'waiting' && last.type === 'RetryScheduled') return Date.parse(last.notBefore);
  return status === 'pending' || status === 'running' ? since : null;
}

/**
 * What an appended batch writes on its flow's queue row, before the merge with the row it finds (a
 * cancelled flow stays cancelled, a failed one failed: `mergedQueueStatus`, `queueUpdate` in SQL). Every
 * store computes it here, from the batch, so the three apply one rule and the SQL append statement only
 * writes values; the rebuild derives the same from the log (`rebuiltQueueStatus`, and in SQL
 * `chemflow_rebuild_flow_queue`).
 */
export interface QueueProjection {
  /** The status after the batch: `rebuiltQueueStatus` of the batch alone (its own look-back included). */
  status: QueueStatus;
  lastEventType: FlowEvent['type'];
  /** A waiting flow's due time (its retry's notBefore); a pending or running one is due from the store's now. */
  notBefore: string | null;
  /**
   * Whether every event of the batch keeps a failed flow failed (a sibling shard's outcome, a signal):
   * the merge keeps a failed row failed only then (`mergedQueueStatus`; `queueUpdate` in SQL).
   */
  keepsFailed: boolean;
  /** The flow's name when the batch creates it (its FlowInitialized), else null. */
  name: string | null;
  firstTs: string;
  lastTs: string;
}

export function batchProjection(batch: readonly FlowEvent[]): QueueProjection | undefined {
  const first = batch[0];
  const last = batch[batch.length - 1];
  if (first === undefined || last === undefined) return undefined;
  const status = statusLookingBack(batch, last, batch.some((e) => e.type === 'FlowCancelled'));
  const created = batch.find((e) => e.type === 'FlowInitialized');
  return {
    status,
    lastEventType: last.type,
    notBefore: status === 'waiting' && last.type === 'RetryScheduled' ? last.notBefore : null,
    keepsFailed: batch.every((e) => keepsFailed(queueStatusAfter(e, false), e)),
    name: created?.type === 'FlowInitialized' ? created.flowName : null,
    firstTs: first.ts,
    lastTs: last.ts,
  };
}
