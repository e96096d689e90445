import type { StepExecutionError } from '../../core/step-execution-error.js';
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
