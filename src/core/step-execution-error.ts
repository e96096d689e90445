import type { JsonObject } from './canonical-json.js';
import { ERROR_CLASSES, type ErrorClass } from './error-class.js';
import type { EventOf } from './events.js';

/** One row of `step_execution_errors`: the audit record of one failed attempt. */
export interface StepExecutionError {
  flowId: string;
  stepId: string;
  attemptNumber: number;
  errorClass: ErrorClass;
  errorMessage: string;
  details: JsonObject;
  timestamp: string;
  retryCount: number;
  maxRetries: number;
}

export interface ErrorCounts {
  total: number;
  byClass: Record<ErrorClass, number>;
}

/**
 * The error row is a projection of its `StepFailed` event, written in the same transaction: the two
 * can never disagree, and database rehydration equals in-memory replay by construction.
 */
export function errorRecordFromEvent(event: EventOf<'StepFailed'>): StepExecutionError {
  return {
    flowId: event.flowId,
    stepId: event.stepId,
    attemptNumber: event.attempt,
    errorClass: event.errorClass,
    errorMessage: event.error.message,
    details: { ...event.details, error_code: event.error.code },
    timestamp: event.ts,
    retryCount: event.retryCount,
    maxRetries: event.maxRetries,
  };
}

export function emptyErrorCounts(): ErrorCounts {
  const byClass = Object.fromEntries(ERROR_CLASSES.map((c) => [c, 0])) as Record<ErrorClass, number>;
  return { total: 0, byClass };
}

export function countErrors(errors: Iterable<Pick<StepExecutionError, 'errorClass'>>): ErrorCounts {
  const counts = emptyErrorCounts();
  for (const error of errors) {
    counts.total += 1;
    counts.byClass[error.errorClass] += 1;
  }
  return counts;
}
