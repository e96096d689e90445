import type { StepExecutionError } from '../../core/step-execution-error.js';
import type { ErrorSearch } from '../flow-store.js';
import type { SqlQuery } from './executor.js';
import { ERROR_COLUMNS, ERROR_VALUES_FROM_JSON, isoTimestamp } from './sql-fragments.js';

const SELECT_ERROR = `SELECT id, step_id, attempt_number, error_class, error_message, details,
  ${isoTimestamp('timestamp')} AS timestamp, retry_count, max_retries
  FROM step_execution_errors`;

export function insertErrorsQuery(records: readonly StepExecutionError[]): SqlQuery {
  return {
    text: `INSERT INTO step_execution_errors (${ERROR_COLUMNS})
      SELECT ${ERROR_VALUES_FROM_JSON}
      FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS source(e, ord) ORDER BY source.ord`,
    values: [JSON.stringify(records)],
  };
}

/** A flow's error rows (optionally one step's) in insertion order. */
export function listErrorsQuery(flowId: string, stepId?: string): SqlQuery {
  return stepId === undefined
    ? { text: `${SELECT_ERROR} WHERE flow_id = $1::uuid ORDER BY id`, values: [flowId] }
    : { text: `${SELECT_ERROR} WHERE flow_id = $1::uuid AND step_id = $2 ORDER BY id`, values: [flowId, stepId] };
}

/** One step's attempts in order; served by `idx_step_execution_errors_flow_step_attempt`. */
export function errorTimelineQuery(flowId: string, stepId: string): SqlQuery {
  return {
    text: `${SELECT_ERROR} WHERE flow_id = $1::uuid AND step_id = $2 ORDER BY attempt_number, id`,
    values: [flowId, stepId],
  };
}

export function countErrorsByClassQuery(flowId: string): SqlQuery {
  return {
    text: `SELECT error_class, count(*)::int AS count FROM step_execution_errors
      WHERE flow_id = $1::uuid GROUP BY error_class`,
    values: [flowId],
  };
}

/**
 * Rows of every flow matching the filters, newest first, with the flow's name: one page of the
 * audit queries of docs/errors.md, by the primary key's order.
 */
export function searchErrorsQuery(search: ErrorSearch): SqlQuery {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  if (search.errorClass !== undefined) where.push(`e.error_class = ${param(search.errorClass)}`);
  if (search.code !== undefined) where.push(`e.details->>'error_code' = ${param(search.code)}`);
  if (search.stepId !== undefined) where.push(`e.step_id = ${param(search.stepId)}`);
  if (search.flowName !== undefined) where.push(`q.name = ${param(search.flowName)}`);
  if (search.since !== undefined) where.push(`e.timestamp >= ${param(search.since)}::timestamptz`);
  if (search.until !== undefined) where.push(`e.timestamp < ${param(search.until)}::timestamptz`);
  if (search.before !== undefined) where.push(`e.id < ${param(search.before)}`);
  return {
    text: `SELECT e.id, e.flow_id::text AS flow_id, COALESCE(q.name, '') AS flow_name, e.step_id, e.attempt_number, e.error_class,
        e.error_message, e.details, ${isoTimestamp('e.timestamp')} AS timestamp, e.retry_count, e.max_retries
      FROM step_execution_errors e LEFT JOIN flow_queue q ON q.flow_id = e.flow_id
      ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
      ORDER BY e.id DESC LIMIT ${param(search.limit ?? DEFAULT_ERROR_SEARCH_LIMIT)}`,
    values,
  };
}

export const DEFAULT_ERROR_SEARCH_LIMIT = 100;
