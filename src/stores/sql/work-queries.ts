import type { ClaimWorkOptions, HeldWork } from '../work-queue.js';
import type { SqlQuery } from './executor.js';
import { CLAIMED_VERSION, claimableFlows } from './queue-queries.js';
import { claimableItems } from './shard-queries.js';
import { claimLimit, COMMIT_WITHOUT_FLUSH_WAIT, isoTimestamp, msFromNow } from './sql-fragments.js';

/**
 * The worker's one claim and one heartbeat over both queues (the flow queue, migrations/0004, and the
 * work-item queue, migrations/0007 and 0013), each one statement of data-modifying CTEs. The rules are
 * those of `claimFlowsQuery` and `claimShardsQuery`.
 */

/**
 * Claims due flows, then due work items up to what is left of the limit (the flows' CTE's row count
 * bounds the items' LIMIT), each with `FOR UPDATE SKIP LOCKED`. One row per claimed flow's event (its
 * columns repeated, as `claimFlowsQuery` with events; one row with no event when `events` is off or it
 * has none), and one row per claimed item; `what` tells them apart.
 * Its LIMIT is `claimLimit`'s.
 */
export function claimWorkQuery(owner: string, options: ClaimWorkOptions): SqlQuery {
  const skipFlows = options.skipFlows ?? [];
  const skipSteps = options.skipSteps ?? [];
  const values: unknown[] = [
    owner,
    options.leaseMs,
    skipFlows.map((s) => s.flowId),
    skipFlows.map((s) => s.version),
    skipSteps.map((s) => s.flowId),
    skipSteps.map((s) => s.stepIndex),
    options.events === true,
  ];
  const limit = claimLimit(options.limit, values);
  return {
    text: `WITH flows_claimable AS (
${claimableFlows(limit, '$3', '$4')}
), flows AS (
  UPDATE flow_queue q SET lease_owner = $1::text, lease_expires_at = ${msFromNow('$2::int')}
  FROM flows_claimable WHERE q.flow_id = flows_claimable.flow_id AND ${COMMIT_WITHOUT_FLUSH_WAIT}
  RETURNING q.flow_id, q.status, ${CLAIMED_VERSION}
), items_claimable AS (
${claimableItems(`greatest(0, ${limit} - (SELECT count(*) FROM flows))`, '$5', '$6')}
), items AS (
  UPDATE flow_shards s SET lease_owner = $1::text, lease_expires_at = ${msFromNow('$2::int')}
  FROM items_claimable
  WHERE (s.flow_id, s.step_index, s.shard_index) = (items_claimable.flow_id, items_claimable.step_index, items_claimable.shard_index)
    AND ${COMMIT_WITHOUT_FLUSH_WAIT}
  RETURNING s.flow_id, s.step_index, s.shard_index, s.shard_count, s.kind
)
SELECT 'flow' AS what, c.flow_id::text AS flow_id, c.status, c.version,
  NULL::int AS step_index, NULL::int AS shard_index, NULL::int AS shard_count, NULL::text AS kind,
  e.seq, e.version AS event_version, ${isoTimestamp('e.ts')} AS ts, e.event_type, e.schema_version, e.payload
FROM flows c LEFT JOIN event_log e ON $7::boolean AND e.flow_id = c.flow_id
UNION ALL
SELECT 'item', i.flow_id::text, NULL, NULL, i.step_index, i.shard_index, i.shard_count, i.kind,
  NULL, NULL, NULL, NULL, NULL, NULL
FROM items i
ORDER BY what, flow_id, event_version, step_index, shard_index`,
    values,
  };
}

/**
 * The heartbeat of every lease a worker holds, flows and work items, in one statement: the flows'
 * leases extended (each with its status), the items' (each with its
 * flow status, to see a cancellation). One row per lease still held; `what` tells them apart.
 */
export function renewWorkQuery(owner: string, held: HeldWork, leaseMs: number): SqlQuery {
  return {
    text: `WITH flows AS (
  UPDATE flow_queue SET lease_expires_at = ${msFromNow('$3::int')}
  WHERE flow_id = ANY($2::uuid[]) AND lease_owner = $1::text
  RETURNING flow_id, status
), items AS (
  UPDATE flow_shards s SET lease_expires_at = ${msFromNow('$3::int')}
  FROM unnest($4::uuid[], $5::int[], $6::int[]) AS k (flow_id, step_index, shard_index), flow_queue q
  WHERE (s.flow_id, s.step_index, s.shard_index) = (k.flow_id, k.step_index, k.shard_index)
    AND s.lease_owner = $1::text AND q.flow_id = s.flow_id
  RETURNING s.flow_id, s.step_index, s.shard_index, q.status
)
SELECT 'flow' AS what, flow_id::text AS flow_id, NULL::int AS step_index, NULL::int AS shard_index, status FROM flows
UNION ALL
SELECT 'item', flow_id::text, step_index, shard_index, status FROM items`,
    values: [
      owner,
      [...held.flowIds],
      leaseMs,
      held.items.map((s) => s.flowId),
      held.items.map((s) => s.stepIndex),
      held.items.map((s) => s.shardIndex),
    ],
  };
}
