import type { ShardDue, ShardKey, WorkItemKind } from '../shard-queue.js';
import type { SqlQuery } from './executor.js';
import { claimLimit, COMMIT_WITHOUT_FLUSH_WAIT, isOpenStatus, msFromNow } from './sql-fragments.js';

/**
 * The work-item queue's statements (migrations/0007_flow_shards, 0013_work_items: shards and whole
 * steps in one table), served by the primary key or by the partial index over open items. Times are
 * the database's `now()`, as for the flow queue.
 */

/**
 * A work item `s`'s flow `q` lets it be claimed (once due, its lease free): its queue row is open (a
 * graph's flow is `pending` between two steps' outcomes), or it is an item of a failed flow that
 * someone held, whose lost attempt its claimer records (`itemFlowLets` in src/core/queue-row.ts).
 */
export const ITEM_FLOW_LETS = `(${isOpenStatus('q.status')}
    OR (q.status = 'failed' AND s.lease_owner IS NOT NULL))`;

/** The columns of a claimable item's row, beyond its flow (`ITEM_FLOW_LETS`): due, lease free or expired. */
export const ITEM_DUE = `s.due_at IS NOT NULL AND s.due_at <= now() AND (s.lease_expires_at IS NULL OR s.lease_expires_at < now())`;

/** `due` as the statements take it: milliseconds from now, or NULL for closed. */
function dueParam(due: ShardDue): number | null {
  if (due === 'closed') return null;
  return due === 'now' ? 0 : Math.max(0, due.at - Date.now());
}

/**
 * A shard's due time from `param` (milliseconds from now, NULL for closed), except that a cancelled
 * flow's shards are never due: the append of its `FlowCancelled` closed them (`closeCancelledShards`),
 * and a coordinator opening or a worker giving one back after it must not reopen them.
 */
const DUE = (flowId: string, param: string): string => `CASE
    WHEN ${param} IS NULL THEN NULL
    WHEN EXISTS (SELECT 1 FROM flow_queue c WHERE c.flow_id = ${flowId} AND c.status = 'cancelled') THEN NULL
    ELSE ${msFromNow(param)}
  END`;

/**
 * The part of an append statement whose batch cancels a flow: its shard rows close with its
 * `FlowCancelled`, in the same transaction, so none stays due. `cancelled` selects the `flow_id` of
 * each cancelled flow whose events were inserted. Leases are kept: a live holder's heartbeat sees the
 * cancellation, and a holder that is gone can be told apart.
 */
export function closeCancelledShards(cancelled: string): string {
  return `shards_closed AS (
  UPDATE flow_shards s SET due_at = NULL
  FROM (${cancelled}) c
  WHERE s.flow_id = c.flow_id AND s.due_at IS NOT NULL
)`;
}

/** Creates or reopens shard rows (leases kept) and wakes idle workers at commit. */
export function openShardsQuery(flowId: string, stepIndex: number, shardCount: number, shards: readonly { index: number; due: ShardDue }[]): SqlQuery {
  return {
    text: `WITH opened AS (
  INSERT INTO flow_shards (flow_id, step_index, shard_index, shard_count, due_at)
  SELECT $1::uuid, $2::int, s.shard_index, $3::int, ${DUE('$1::uuid', 's.due_ms')}
  FROM unnest($4::int[], $5::float8[]) AS s (shard_index, due_ms)
  ON CONFLICT (flow_id, step_index, shard_index) DO UPDATE SET shard_count = EXCLUDED.shard_count, due_at = EXCLUDED.due_at
  RETURNING 1
)
SELECT count(*)::int AS opened, pg_notify('chemflow_queue_' || current_schema(), $1::text) IS NULL AS notified FROM opened`,
    values: [flowId, stepIndex, shardCount, shards.map((s) => s.index), shards.map((s) => dueParam(s.due))],
  };
}

/** Creates or reopens whole-step items of a graph flow (shard 0 of 1, leases kept) and wakes idle workers at commit. */
export function openStepsQuery(flowId: string, steps: readonly { index: number; due: ShardDue }[]): SqlQuery {
  return {
    text: `WITH opened AS (
  INSERT INTO flow_shards (flow_id, step_index, shard_index, shard_count, kind, due_at)
  SELECT $1::uuid, s.step_index, 0, 1, 'step', ${DUE('$1::uuid', 's.due_ms')}
  FROM unnest($2::int[], $3::float8[]) AS s (step_index, due_ms)
  ON CONFLICT (flow_id, step_index, shard_index) DO UPDATE SET kind = 'step', shard_count = 1, due_at = EXCLUDED.due_at
  RETURNING 1
)
SELECT count(*)::int AS opened, pg_notify('chemflow_queue_' || current_schema(), $1::text) IS NULL AS notified FROM opened`,
    values: [flowId, steps.map((s) => s.index), steps.map((s) => dueParam(s.due))],
  };
}

/** Claims due work items (shards and steps) of open flows in due order; SKIP LOCKED as for flows. */
/**
 * The work items a claim may take, locked (`FOR UPDATE SKIP LOCKED`): due, lease free or expired,
 * their flow letting them (`ITEM_FLOW_LETS`), not of the steps listed in `skipFlowIds`/`skipStepIndexes`
 * (two array parameters), matching `where` (more conditions on `s`), earliest due first, at most `limit`.
 * Shared by a coordinator's claim (`claimShardsQuery`) and a worker's turn (`claimWorkQuery`).
 */
export function claimableItems(limit: string, skipFlowIds: string, skipStepIndexes: string, where = ''): string {
  return `  SELECT s.flow_id, s.step_index, s.shard_index FROM flow_shards s
  JOIN flow_queue q ON q.flow_id = s.flow_id AND ${ITEM_FLOW_LETS}
  WHERE ${ITEM_DUE}${where}
    AND NOT EXISTS (SELECT 1 FROM unnest(${skipFlowIds}::uuid[], ${skipStepIndexes}::int[]) AS k (flow_id, step_index)
      WHERE k.flow_id = s.flow_id AND k.step_index = s.step_index)
  ORDER BY s.due_at, s.shard_index
  LIMIT ${limit}
  FOR UPDATE OF s SKIP LOCKED`;
}

export function claimShardsQuery(
  owner: string,
  limit: number,
  leaseMs: number,
  flowId: string | undefined,
  skipSteps: readonly { flowId: string; stepIndex: number }[] = [],
  kind: WorkItemKind | undefined = undefined,
): SqlQuery {
  const values: unknown[] = [owner, leaseMs, flowId ?? null, skipSteps.map((s) => s.flowId), skipSteps.map((s) => s.stepIndex), kind ?? null];
  return {
    text: `WITH claimable AS (
${claimableItems(claimLimit(limit, values), '$4', '$5', `
    AND ($3::uuid IS NULL OR s.flow_id = $3::uuid) AND ($6::text IS NULL OR s.kind = $6::text)`)}
)
UPDATE flow_shards s SET lease_owner = $1::text, lease_expires_at = ${msFromNow('$2::int')}
FROM claimable
WHERE (s.flow_id, s.step_index, s.shard_index) = (claimable.flow_id, claimable.step_index, claimable.shard_index)
  AND ${COMMIT_WITHOUT_FLUSH_WAIT}
RETURNING s.flow_id::text AS flow_id, s.step_index, s.shard_index, s.shard_count, s.kind`,
    values,
  };
}

/**
 * Gives a shard or step item back, due again or closed. Either way a NOTIFY wakes idle workers (one due
 * again may be claimed) and the flow's coordinator (an outcome was recorded: it reads the log now).
 */
export function releaseShardQuery(shard: ShardKey, owner: string, due: ShardDue): SqlQuery {
  return {
    text: `WITH released AS (
  UPDATE flow_shards SET lease_owner = NULL, lease_expires_at = NULL, due_at = ${DUE('$1::uuid', '$4::float8')}
  WHERE flow_id = $1::uuid AND step_index = $2::int AND shard_index = $3::int AND lease_owner = $5::text
  RETURNING due_at
)
SELECT pg_notify('chemflow_queue_' || current_schema(), $1::text) FROM released`,
    values: [shard.flowId, shard.stepIndex, shard.shardIndex, dueParam(due), owner],
  };
}

/** A flow's shard rows (by the primary key): open or closed, and the holder of a lease not yet expired. */
export function listShardsQuery(flowId: string): SqlQuery {
  return {
    text: `SELECT step_index, shard_index, kind, due_at IS NOT NULL AS open,
  CASE WHEN lease_expires_at >= now() THEN lease_owner END AS holder
FROM flow_shards WHERE flow_id = $1::uuid ORDER BY step_index, shard_index`,
    values: [flowId],
  };
}

/** Whether an open flow has an open work item (the partial index over open items, joined by key). */
export const HAS_OPEN_SHARDS_QUERY: SqlQuery = {
  text: `SELECT EXISTS (
  SELECT 1 FROM flow_shards s JOIN flow_queue q ON q.flow_id = s.flow_id AND ${ITEM_FLOW_LETS} WHERE s.due_at IS NOT NULL
) AS open`,
  values: [],
};
