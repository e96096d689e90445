import type { CachedStepEntry, ErrorHistoryEntry, FlowStepEntry } from '../core/definition.js';
import { errorHistory } from '../core/error-history.js';
import { flowStepEntries } from '../core/flow-steps.js';
import type { FlowInstance } from '../core/flow-state.js';
import { cachedStepsOf } from './step-cache.js';

/** What a step's context says of its whole flow (`StepContext.errorHistory`, `cachedSteps`, `flowSteps`). */
export interface FlowViews {
  readonly errorHistory: readonly ErrorHistoryEntry[];
  readonly cachedSteps: readonly CachedStepEntry[];
  readonly flowSteps: readonly FlowStepEntry[];
}

/**
 * Gives `target` the flow views of `flow` (the state the attempt starts from), each built when first
 * read and then kept: each walks every step of the flow, and most steps read none of them, so a flow
 * of n steps would otherwise build n lists of n entries. Copied to a step thread, they are read then.
 */
export function withFlowViews<T extends object>(target: T, flow: FlowInstance): T & FlowViews {
  let errors: readonly ErrorHistoryEntry[] | undefined;
  let cached: readonly CachedStepEntry[] | undefined;
  let steps: readonly FlowStepEntry[] | undefined;
  return Object.defineProperties(target, {
    errorHistory: { enumerable: true, get: () => (errors ??= errorHistory(flow)) },
    cachedSteps: { enumerable: true, get: () => (cached ??= cachedStepsOf(flow)) },
    flowSteps: { enumerable: true, get: () => (steps ??= flowStepEntries(flow)) },
  }) as T & FlowViews;
}
