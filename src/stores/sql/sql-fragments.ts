import { ENDED_STATUSES } from '../../core/flow-state.js';

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

/**
 * The columns of the queue row the append that creates a flow inserts, in the order of `queueRowValues`
 * after the flow id and the lease. The log's head (version, last event type and time) is no column:
 * readers take it from the log (`flowHead`).
 */
export const QUEUE_ROW_COLUMNS = 'flow_id, lease_owner, lease_expires_at, name, status, next_due_at, created_at';

/**
 * The last four of QUEUE_ROW_COLUMNS from `q`, a jsonb `QueueProjection` computed by the appending
 * process, shared by the single and the many-flow append statements. The due time is the rebuild's own
 * rule, `chemflow_queue_due`, which PostgreSQL inlines (migration 0009): a pending or running flow is
 * due from the database's clock, the one every claim compares with.
 */
export function queueRowValues(q: string): string {
  return `coalesce(${q}->>'name', ''), ${q}->>'status', chemflow_queue_due(${q}->>'status', ${q}, now()), (${q}->>'firstTs')::timestamptz`;
}

/**
 * The flow's last event (version, event_type, ts) as a FROM item: `chemflow_flow_head` (migration
 * 0015), which PostgreSQL inlines into one backward probe of the unique (flow_id, version) index.
 */
export function flowHead(flowId: string): string {
  return `chemflow_flow_head(${flowId})`;
}

/**
 * How an append that does not create its flow updates the flow's queue row `q` (`UPDATE flow_queue AS
 * q SET <set> ... WHERE ... AND <changes>`), shared by the single and the many-flow append
 * statements. `next` is the batch's jsonb `QueueProjection`, `holder` the appender's lease owner
 * (NULL when it holds no lease on the flow). The merge is the SQL statement of `appendedQueueRow`
 * (src/core/queue-row.ts), which the memory store runs; the queue-rules contract test compares the two
 * on random histories: a cancelled flow stays cancelled; a failed flow stays failed when every event of
 * the batch keeps it failed; a flow still pending or running keeps its due time (unless it is later
 * than the append's: then it is due now); a flow that stays cancelled or failed has none; the append
 * whose batch ends the flow clears its lease, a cancellation keeps it (the holder's heartbeat then
 * sees `cancelled`).
 *
 * `changes` lets the UPDATE write the row only when the merged status, due time or lease differ from
 * the row's: most appends of a running flow write nothing (the head the row held before is read from
 * the log). One exception: the row of a flow open or leased is written (values unchanged) when the
 * appender does not hold its lease, unexpired. Writing locks the row until the append commits, so a claim passes over the row
 * meanwhile (SKIP LOCKED) rather than reading the log without the events being committed, and a
 * holder's release that defers the row until a retry's time waits for the append, then reads its
 * events (`releaseLeaseQuery`); the holder's own appends cannot race its release.
 */
export function queueUpdate(next: string, holder: string): { set: string; changes: string } {
  const status = `(${next}->>'status')`;
  const staysFailed = `q.status = 'failed' AND (${next}->>'keepsFailed')::boolean`;
  const ends = `${status} IN ('completed', 'failed')`;
  const merged = {
    status: `CASE
      WHEN q.status = 'cancelled' THEN 'cancelled'
      -- Only sibling shards' outcomes and signals recorded after a shard failed for good: still failed.
      WHEN ${staysFailed} THEN 'failed'
      ELSE ${status}
    END`,
    next_due_at: `CASE
      WHEN q.status = 'cancelled' THEN NULL
      WHEN ${staysFailed} THEN NULL
      -- Kept unless later than now (a flow given back until a retry's time): due now then.
      WHEN q.status = ${status} AND q.status IN ('pending', 'running') THEN least(q.next_due_at, chemflow_queue_due(${next}->>'status', ${next}, now()))
      ELSE chemflow_queue_due(${next}->>'status', ${next}, now())
    END`,
    lease_owner: `CASE WHEN ${ends} THEN NULL ELSE q.lease_owner END`,
    lease_expires_at: `CASE WHEN ${ends} THEN NULL ELSE q.lease_expires_at END`,
  };
  const columns = Object.keys(merged);
  return {
    set: columns.map((c) => `${c} = ${merged[c as keyof typeof merged]}`).join(',\n    '),
    changes: `((${Object.values(merged).join(',\n    ')}) IS DISTINCT FROM (${columns.map((c) => `q.${c}`).join(', ')})
    OR ((q.lease_owner IS NOT NULL OR ${isOpenStatus('q.status')})
      AND NOT coalesce(q.lease_owner = ${holder} AND q.lease_expires_at > now(), false)))`,
  };
}

/**
 * A condition, always true, that makes its statement's transaction commit without waiting for the WAL
 * flush (`synchronous_commit` off for that transaction alone; the connection's next statement waits
 * again). Claims put it on the rows they lease: a lease is a lock that expires, not history, so a claim
 * lost in a server crash only leaves the flow or item claimable again; and the holder's first append,
 * which waits for its own flush, flushes the claim with it (the WAL is written in order). Evaluated per
 * leased row (the function is volatile): a claim that leases nothing sets nothing.
 */
export const COMMIT_WITHOUT_FLUSH_WAIT = `set_config('synchronous_commit', 'off', true) IS NOT NULL`;

/**
 * A claim's LIMIT: the literal 1 for a claim of one (one free slot: the common claim), else a new
 * parameter appended to `values`. PostgreSQL plans a LIMIT parameter as a tenth of the rows, so on
 * analysed tables the generic plan of `LIMIT $n` hash-joined whole tables and every claim was planned
 * anew (over a millisecond each); with the literal, the generic plan is the custom one, made once per
 * connection (`test/stores/claim-plan.int.test.ts`).
 */
export function claimLimit(limit: number, values: unknown[]): string {
  return limit === 1 ? '1' : `$${values.push(limit)}::int`;
}

/** `ms` milliseconds (a number expression) from the database's clock: a lease's end, a due time. */
export function msFromNow(ms: string): string {
  return `now() + ${ms} * interval '1 millisecond'`;
}

/**
 * Whether the queue status in `column` is open (`OPEN_STATUSES`): the flow may still have work. Written
 * as "not ended" (the status column allows no third kind): without statistics PostgreSQL takes an `IN`
 * list of three values as 1.5 % of the rows and a `NOT IN` list as 98.5 %, and a claim on a table not
 * yet analysed must still read the open flows' index in due order rather than sort them all. The index
 * `flow_queue_runnable` has this predicate, word for word (migrations/0016_open_flows_index).
 */
export function isOpenStatus(column: string): string {
  return `${column} NOT IN (${ENDED_STATUSES.map((s) => `'${s}'`).join(', ')})`;
}
