import { emptyErrorCounts, type ErrorCounts, type StepExecutionError } from '../../core/step-execution-error.js';
import type { ErrorClass } from '../../core/error-class.js';
import { countErrorsByClassQuery, errorTimelineQuery, insertErrorsQuery, listErrorsQuery, searchErrorsQuery } from './error-queries.js';
import { run, type SqlExecutor, type SqlRunner } from './executor.js';
import { errorFromRow, type ErrorRow } from './rows.js';
import { withRetry } from './transient.js';
import type { ErrorSearch, ErrorStore, FoundError } from '../flow-store.js';
import { isUuid } from './uuid.js';

/**
 * `insertStepExecutionError(runner, record)`: one `step_execution_errors` row on
 * `runner` (an executor, or the connection of the transaction that also writes its `StepFailed`).
 */
export async function insertStepExecutionError(runner: SqlRunner, record: StepExecutionError): Promise<void> {
  await run(runner, insertErrorsQuery([record]));
}

/**
 * `PgErrorStore`: the `step_execution_errors` table. `PgEventStore.append` writes the
 * rows of a batch's `StepFailed` events in its own statement with the same projection as
 * `insertError`, so event and row commit together.
 */
export class PgErrorStore implements ErrorStore {
  constructor(private readonly executor: SqlExecutor) {}

  /** Writes one row on `tx` (a transaction or the executor); the caller owns atomicity. */
  insertError(tx: SqlRunner, record: StepExecutionError): Promise<void> {
    return insertStepExecutionError(tx, record);
  }

  /** A flow's error rows (optionally one step's), in insertion order. */
  async listErrors(flowId: string, stepId?: string): Promise<StepExecutionError[]> {
    if (!isUuid(flowId)) return [];
    const rows = await withRetry(`list errors of flow ${flowId}`, () =>
      run<ErrorRow>(this.executor, listErrorsQuery(flowId, stepId)),
    );
    return rows.map((row) => errorFromRow(flowId, row));
  }

  /** One step's failed attempts ordered by attempt number. */
  async getErrorTimeline(flowId: string, stepId: string): Promise<StepExecutionError[]> {
    if (!isUuid(flowId)) return [];
    const rows = await withRetry(`read the error timeline of step ${stepId} in flow ${flowId}`, () =>
      run<ErrorRow>(this.executor, errorTimelineQuery(flowId, stepId)),
    );
    return rows.map((row) => errorFromRow(flowId, row));
  }

  /** Rows of every flow matching `search`, newest first (see `searchErrorsQuery`). */
  async searchErrors(search: ErrorSearch): Promise<FoundError[]> {
    const rows = await withRetry('search the error rows', () =>
      run<ErrorRow & { flow_id: string; flow_name: string }>(this.executor, searchErrorsQuery(search)),
    );
    return rows.map((row) => ({ ...errorFromRow(row.flow_id, row), id: row.id, flowName: row.flow_name }));
  }

  async countErrorsByFlow(flowId: string): Promise<ErrorCounts> {
    const counts = emptyErrorCounts();
    if (!isUuid(flowId)) return counts;
    const rows = await withRetry(`count errors of flow ${flowId}`, () =>
      run<{ error_class: ErrorClass; count: number }>(this.executor, countErrorsByClassQuery(flowId)),
    );
    for (const row of rows) {
      counts.byClass[row.error_class] = row.count;
      counts.total += row.count;
    }
    return counts;
  }
}
