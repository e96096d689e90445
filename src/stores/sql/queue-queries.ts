import type { FlowQuery } from '../flow-store.js';
import type { SqlQuery } from './executor.js';
import { ITEM_FLOW_LETS } from './shard-queries.js';
import { claimLimit, COMMIT_WITHOUT_FLUSH_WAIT, flowHead, isOpenStatus, isoTimestamp, msFromNow } from './sql-fragments.js';

/**
 * The flow queue's statements (migrations/0004_flow_queue). Every one is served by an index over
 * open flows or by the listing indexes: its cost does not grow with the number of finished flows.
 * Times are the database's `now()`, the one clock every worker agrees on.
 */

const OPEN = isOpenStatus('status');
const DEFAULT_LIMIT = 50;

/**
 * A listed flow: its queue row, and its head (version, last event type and time) read from its log, so
 * never behind it: one probe of the log's (flow_id, version) index per row of the page, made after the
 * LIMIT (a LATERAL join on the page's rows).
 */
const SUMMARY_COLUMNS = `flow_queue.flow_id::text AS flow_id, name, status, head.version, head.event_type AS last_event_type,
  ${isoTimestamp('created_at')} AS created_at, ${isoTimestamp('head.ts')} AS updated_at,
  ${isoTimestamp('next_due_at')} AS next_due_at, lease_owner, ${isoTimestamp('lease_expires_at')} AS lease_expires_at`;

/**
 * One page of flows, newest first (or oldest first, or by name), filtered by status, name, creation
 * time and error class, continuing after a flow (keyset on the sort's columns). Each order is one of
 * the flow queue's indexes read from its start: flow_queue_recent, flow_queue_status_recent or
 * flow_queue_name_recent, forwards or backwards; an error class is looked up per flow by the errors'
 * flow index, or the other way round from the class's own index when the planner finds it rare.
 */
export function listFlowsQuery(query: FlowQuery): SqlQuery {
  const values: unknown[] = [];
  const where: string[] = [];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  if (query.status !== undefined && query.status.length > 0) where.push(`status = ANY(${param([...query.status])}::text[])`);
  if (query.name !== undefined) where.push(`name = ${param(query.name)}::text`);
  if (query.since !== undefined) where.push(`created_at >= ${param(query.since)}::timestamptz`);
  if (query.until !== undefined) where.push(`created_at < ${param(query.until)}::timestamptz`);
  if (query.errorClass !== undefined)
    where.push(`EXISTS (SELECT 1 FROM step_execution_errors e WHERE e.flow_id = flow_queue.flow_id AND e.error_class = ${param(query.errorClass)}::text)`);
  const sort = query.sort ?? 'newest';
  if (query.after !== undefined) {
    const id = param(query.after);
    const cursor = (columns: string): string => `(SELECT ${columns} FROM flow_queue c WHERE c.flow_id = ${id}::uuid)`;
    if (sort === 'newest') where.push(`(created_at, flow_id) < ${cursor('c.created_at, c.flow_id')}`);
    else if (sort === 'oldest') where.push(`(created_at, flow_id) > ${cursor('c.created_at, c.flow_id')}`);
    // Names ascending, then newest first: the first condition starts the index range at the cursor's name.
    else where.push(`name >= ${cursor('c.name')} AND (name > ${cursor('c.name')} OR (created_at, flow_id) < ${cursor('c.created_at, c.flow_id')})`);
  }
  // The sort names the table's columns: the bare names are the text columns of the SELECT list, by
  // which PostgreSQL would sort every row instead of reading the first page of an index.
  const order = {
    newest: 'flow_queue.created_at DESC, flow_queue.flow_id DESC',
    oldest: 'flow_queue.created_at ASC, flow_queue.flow_id ASC',
    name: 'flow_queue.name ASC, flow_queue.created_at DESC, flow_queue.flow_id DESC',
  }[sort];
  const limit = param(query.limit ?? DEFAULT_LIMIT);
  return {
    text: `SELECT ${SUMMARY_COLUMNS} FROM (
  SELECT * FROM flow_queue
  ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
  ORDER BY ${order} LIMIT ${limit}::int
) flow_queue CROSS JOIN LATERAL ${flowHead('flow_queue.flow_id')} AS head
ORDER BY ${order}`,
    values,
  };
}

/**
 * The flows a claim takes (`isClaimable` in src/core/queue-row.ts): open, due, lease free or expired,
 * not passed over at their version (`skipIds`, `skipVersions`: parallel arrays), in due order, at most
 * `limit` (an expression: `claimLimit`'s), locked, passing over the rows other claimers hold locked. `claimFlowsQuery` and the
 * worker's `claimWorkQuery` (work-queries.ts) select with it.
 */
export function claimableFlows(limit: string, skipIds: string, skipVersions: string): string {
  return `  SELECT flow_id FROM flow_queue
  WHERE ${OPEN} AND next_due_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
    -- A filter on each row, not a join with the skip list: the plan stays an ordered scan of the open
    -- flows' due index that stops at the limit, whatever the backlog (a join sorted every open flow).
    AND (array_position(${skipIds}::uuid[], flow_queue.flow_id) IS NULL
      OR (${skipVersions}::int[])[array_position(${skipIds}::uuid[], flow_queue.flow_id)]
        IS DISTINCT FROM (SELECT head.version FROM ${flowHead('flow_queue.flow_id')} AS head))
  ORDER BY next_due_at
  LIMIT ${limit}
  FOR UPDATE SKIP LOCKED`;
}

/**
 * Claims runnable flows in due order. SKIP LOCKED lets concurrent claimers pass over each other's rows
 * instead of waiting on them, so two workers never claim the same flow and never block each other.
 * With `events`, the same statement returns each claimed flow's log too (one row per event, the flow's
 * columns repeated; a flow without events still has its row): the claimer needs no read of its own.
 * The version is the log's head as the statement's snapshot sees it, as are the events: an append
 * that committed while the claim waited for the row is after both (the claimer's first append then
 * meets it as a conflict, and reads the log again).
 */
export function claimFlowsQuery(
  owner: string,
  limit: number,
  leaseMs: number,
  skip: readonly { flowId: string; version: number }[] = [],
  events = false,
): SqlQuery {
  const values: unknown[] = [owner, leaseMs, skip.map((s) => s.flowId), skip.map((s) => s.version)];
  const claim = `WITH claimable AS (
${claimableFlows(claimLimit(limit, values), '$3', '$4')}
)`;
  const take = `UPDATE flow_queue q SET lease_owner = $1::text, lease_expires_at = ${msFromNow('$2::int')}
FROM claimable WHERE q.flow_id = claimable.flow_id AND ${COMMIT_WITHOUT_FLUSH_WAIT}`;
  if (!events) return { text: `${claim}\n${take}\nRETURNING q.flow_id::text AS flow_id, q.status, ${CLAIMED_VERSION}`, values };
  return {
    text: `${claim}, claimed AS (
${take}
RETURNING q.flow_id, q.status, ${CLAIMED_VERSION}
)
SELECT c.flow_id::text AS flow_id, c.status, c.version, e.seq, e.version AS event_version, ${isoTimestamp('e.ts')} AS ts,
  e.event_type, e.schema_version, e.payload
FROM claimed c LEFT JOIN event_log e ON e.flow_id = c.flow_id
ORDER BY c.flow_id, e.version`,
    values,
  };
}

/** The claimed flow's version, from its log: `RETURNING q.flow_id, q.status, ${CLAIMED_VERSION}`. */
export const CLAIMED_VERSION = `(SELECT head.version FROM ${flowHead('q.flow_id')} AS head) AS version`;

/** Takes one flow's lease when free, expired, the owner's or a known-dead holder's; returns the row either way. */
export function acquireLeaseQuery(flowId: string, owner: string, leaseMs: number, takeOverFrom: string | undefined): SqlQuery {
  return {
    text: `WITH target AS (
  SELECT flow_id, lease_owner, lease_expires_at FROM flow_queue WHERE flow_id = $1::uuid FOR UPDATE
), taken AS (
  UPDATE flow_queue q SET lease_owner = $2::text, lease_expires_at = ${msFromNow('$3::int')}
  FROM target
  WHERE q.flow_id = target.flow_id
    AND (target.lease_owner IS NULL OR target.lease_owner = $2::text OR target.lease_expires_at < now()
      OR target.lease_owner = $4::text)
  RETURNING q.flow_id
)
SELECT target.lease_owner, ${isoTimestamp('target.lease_expires_at')} AS lease_expires_at,
  EXISTS (SELECT 1 FROM taken) AS acquired
FROM target`,
    values: [flowId, owner, leaseMs, takeOverFrom ?? null],
  };
}

/**
 * Gives a flow back; with `until`, not due before `until.at` while its log is still at `until.version`
 * (`deferredQueueRow` in src/core/queue-row.ts; the next append makes it due at once again). The
 * version is read as committed when the row is written (`chemflow_flow_version_now`), not as the
 * statement's snapshot saw it: an append by another process (a work item's outcome) writes the row
 * (`queueUpdate`), so this UPDATE waits for it and then reads its events, or it waits for this one
 * and finds the row deferred.
 */
export function releaseLeaseQuery(flowId: string, owner: string, until?: { at: number; version: number }): SqlQuery {
  return {
    text: `UPDATE flow_queue SET lease_owner = NULL, lease_expires_at = NULL,
  next_due_at = CASE
    WHEN $3::float8 IS NOT NULL AND ${OPEN} AND next_due_at IS NOT NULL AND chemflow_flow_version_now(flow_id) = $4::int
    THEN greatest(next_due_at, ${msFromNow('$3::float8')})
    ELSE next_due_at
  END
WHERE flow_id = $1::uuid AND lease_owner = $2::text`,
    values: [flowId, owner, until === undefined ? null : Math.max(0, until.at - Date.now()), until?.version ?? null],
  };
}

/** The earliest moment an open flow or shard becomes claimable: due, and its lease (if any) expired. */
export function nextWakeQuery(): SqlQuery {
  return {
    text: `SELECT (extract(epoch FROM least(
  (SELECT min(greatest(next_due_at, coalesce(lease_expires_at, next_due_at))) FROM flow_queue WHERE ${OPEN}),
  (SELECT min(greatest(s.due_at, coalesce(s.lease_expires_at, s.due_at))) FROM flow_shards s
   JOIN flow_queue q ON q.flow_id = s.flow_id AND ${ITEM_FLOW_LETS} WHERE s.due_at IS NOT NULL)
)) * 1000)::float8 AS wake_at`,
    values: [],
  };
}

export function queueDepthQuery(): SqlQuery {
  return { text: `SELECT status, count(*)::int AS n FROM flow_queue WHERE ${OPEN} GROUP BY status`, values: [] };
}

export function rebuildQueueQuery(flowId: string | undefined): SqlQuery {
  return { text: `SELECT chemflow_rebuild_flow_queue($1::uuid) AS written`, values: [flowId ?? null] };
}

/** The NOTIFY channel of a schema (the trigger of migrations/0004_flow_queue names it the same way). */
export const QUEUE_CHANNEL_QUERY: SqlQuery = { text: `SELECT 'chemflow_queue_' || current_schema() AS channel`, values: [] };
