import type { ErrorHistoryEntry } from './definition.js';
import type { FlowInstance } from './flow-state.js';

/** Every failed attempt of a flow so far, oldest first: what a step sees as `ctx.errorHistory`. */
export function errorHistory(flow: FlowInstance): ErrorHistoryEntry[] {
  if (flow.steps.every((slot) => slot.errors.length === 0)) return [];
  return flow.steps
    .flatMap((slot) =>
      slot.errors.map((e) => ({
        stepId: slot.stepId,
        attemptNumber: e.attemptNumber,
        errorClass: e.errorClass,
        message: e.message,
        timestamp: e.timestamp,
      })),
    )
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
}
