import type { FlowShape } from '../../core/definition.js';
import { CorruptEventError } from '../../core/errors.js';
import type { FlowInstance, StepErrorEntry } from '../../core/flow-state.js';
import { replay } from '../../core/reducer.js';
import type { StepExecutionError } from '../../core/step-execution-error.js';
import type { PgErrorStore } from './pg-error-store.js';
import type { PgEventStore } from './pg-event-store.js';

/**
 * `PgFlowRepository`: reads a flow's events ordered by version (each decoded by the codec)
 * and folds them with the one pure reducer, so database and in-memory replay agree by construction.
 */
export class PgFlowRepository {
  constructor(
    private readonly events: PgEventStore,
    private readonly errors: PgErrorStore,
  ) {}

  async load(flowId: string, definition: FlowShape): Promise<FlowInstance> {
    return replay(flowId, await this.events.list(flowId), definition);
  }

  /**
   * Rehydrates the flow and merges in the rows of `step_execution_errors`: every step's error history
   * from the log must match its rows attempt by attempt (class, message, retry count, limit, time).
   * An audit check — a row without its event or the reverse is reported, never papered over.
   */
  async loadWithErrorRows(flowId: string, definition: FlowShape): Promise<FlowInstance> {
    const [flow, rows] = await Promise.all([this.load(flowId, definition), this.errors.listErrors(flowId)]);
    for (const slot of flow.steps) {
      const fromRows = rows
        .filter((row) => row.stepId === slot.stepId)
        .sort((a, b) => a.attemptNumber - b.attemptNumber)
        .map(auditFields);
      const fromLog = slot.errors.map(auditFields);
      if (JSON.stringify(fromRows) !== JSON.stringify(fromLog))
        throw new CorruptEventError(
          flowId,
          flow.version,
          `step_execution_errors of step ${slot.stepId} (${fromRows.length} rows) disagree with its StepFailed events (${fromLog.length})`,
        );
    }
    return flow;
  }
}

function auditFields(error: StepErrorEntry | StepExecutionError): unknown[] {
  const message = 'errorMessage' in error ? error.errorMessage : error.message;
  return [error.attemptNumber, error.errorClass, message, error.retryCount, error.maxRetries, error.timestamp];
}
