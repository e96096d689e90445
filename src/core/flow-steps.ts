import type { FlowStepEntry } from './definition.js';
import type { FlowInstance } from './flow-state.js';

/** The ids of the steps step `index` needs, in its needs' order. */
export function needIds(flow: Pick<FlowInstance, 'needs' | 'steps'>, index: number): string[] {
  return (flow.needs[index] ?? []).map((n) => flow.steps[n]?.stepId ?? String(n));
}

/** Every step of a flow with its needs and how far it got: what a step sees as `ctx.flowSteps`. */
export function flowStepEntries(flow: Pick<FlowInstance, 'needs' | 'steps'>): FlowStepEntry[] {
  return flow.steps.map((slot, index) => ({
    stepId: slot.stepId,
    needs: needIds(flow, index),
    status: slot.status,
    attempts: slot.attempts,
    retryCount: slot.retryCount,
    cached: slot.cachedFrom !== null,
  }));
}
