/**
 * SQL shared by several queries. Timestamps are formatted by the database, so PGlite and `pg` (whose
 * type parsers differ) read back the same ISO string the engine wrote (`Date#toISOString`).
 */
export function isoTimestamp(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** The columns of `step_execution_errors` that chemflow writes (`id` is the insertion order). */
export const ERROR_COLUMNS =
  'flow_id, step_id, attempt_number, error_class, error_message, details, timestamp, retry_count, max_retries';

/**
 * Error rows from a JSON array of `ErrorRowInput` bound as `source.e` (the one projection used by
 * both `insertError` and the append statement). JSON parameters are sent as text and cast, so both
 * drivers pass them through unchanged.
 */
export const ERROR_VALUES_FROM_JSON = `(source.e->>'flowId')::uuid, source.e->>'stepId', (source.e->>'attemptNumber')::int,
    source.e->>'errorClass', source.e->>'errorMessage', source.e->'details', (source.e->>'timestamp')::timestamptz,
    (source.e->>'retryCount')::int, (source.e->>'maxRetries')::int`;

/** The columns an append writes on its flow's queue row, in the order of `queueRowValues`. */
export const QUEUE_ROW_COLUMNS =
  'flow_id, version, lease_owner, lease_expires_at, name, status, last_event_type, next_due_at, created_at, updated_at';

/**
 * The last six of QUEUE_ROW_COLUMNS from `q`, a jsonb `QueueProjection` computed by the appending
 * process, shared by the single and the many-flow append statements. The due time is the rebuild's own
 * rule, `chemflow_queue_due`, which PostgreSQL inlines (migration 0009): a pending or running flow is
 * due from the database's clock, the one every claim compares with.
 */
export function queueRowValues(q: string): string {
  return `coalesce(${q}->>'name', ''), ${q}->>'status', ${q}->>'lastEventType', chemflow_queue_due(${q}->>'status', ${q}, now()),
    (${q}->>'firstTs')::timestamptz, (${q}->>'lastTs')::timestamptz`;
}

/**
 * How an append's projected queue row merges into the flow's existing one (`INSERT INTO flow_queue AS q
 * ... ON CONFLICT`), shared by the single and the many-flow append statements: the SQL statement of
 * `appendedQueueRow` (src/core/queue-row.ts), which the memory store runs; the queue-rules contract
 * test compares the two on random histories. A cancelled flow stays cancelled; a failed flow stays
 * failed when every event of the batch keeps it failed; a flow still pending or running keeps its due
 * time (unless it is later than the append's: then it is due now), so that the indexed columns do not change and the update stays HOT (no index entry written per
 * step); a flow that stays cancelled or failed has none; the append whose batch ends the flow clears its
 * lease, a cancellation keeps it (the holder's heartbeat then sees `cancelled`).
 *
 * `keepsFailed` is a boolean expression over `q` (the existing row) reading the projection's
 * `keepsFailed`, which is no column of the row, so not in EXCLUDED: a sub-select of the statement's
 * projection. It is read only for a row found failed (CASE evaluates a branch only when it is reached),
 * so the common append runs no sub-select.
 */
export function queueMerge(keepsFailed: string): string {
  const staysFailed = `q.status = 'failed' AND ${keepsFailed}`;
  return `  ON CONFLICT (flow_id) DO UPDATE SET
    status = CASE
      WHEN q.status = 'cancelled' THEN 'cancelled'
      -- Only sibling shards' outcomes and signals recorded after a shard failed for good: still failed.
      WHEN ${staysFailed} THEN 'failed'
      ELSE EXCLUDED.status
    END,
    version = EXCLUDED.version,
    last_event_type = EXCLUDED.last_event_type,
    next_due_at = CASE
      WHEN q.status = 'cancelled' THEN NULL
      WHEN ${staysFailed} THEN NULL
      -- Kept unless later than now (a flow given back until a retry's time): due now then.
      WHEN q.status = EXCLUDED.status AND q.status IN ('pending', 'running') THEN least(q.next_due_at, EXCLUDED.next_due_at)
      ELSE EXCLUDED.next_due_at
    END,
    lease_owner = CASE WHEN EXCLUDED.status IN ('completed', 'failed') THEN NULL ELSE q.lease_owner END,
    lease_expires_at = CASE WHEN EXCLUDED.status IN ('completed', 'failed') THEN NULL ELSE q.lease_expires_at END,
    updated_at = EXCLUDED.updated_at`;
}
