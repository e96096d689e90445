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
