import type { RetryRejectionReason } from './errors.js';
import type { RetryScheduled } from './events.js';
import type { FlowInstance } from './flow-state.js';

export interface RetryRequest {
  stepId: string;
  /** The limit in force: the caller's override or the effective policy's `maxRetries`. */
  maxRetries: number;
  delayMs: number;
  reason: string | null;
  /** Epoch milliseconds. */
  now: number;
}

export type RetryDecision =
  | { ok: true; event: RetryScheduled }
  | { ok: false; reason: RetryRejectionReason; detail: string };

/**
 * The one rule for every retry, manual or automatic: only a `Failed` step with retries left may go
 * back to `Pending`. Pure, so the engine, the CLI and tests all ask the same question.
 */
export function decideRetry(flow: FlowInstance, request: RetryRequest): RetryDecision {
  const stepIndex = flow.steps.findIndex((s) => s.stepId === request.stepId);
  const slot = flow.steps[stepIndex];
  if (slot === undefined)
    return { ok: false, reason: 'unknown_step', detail: `the flow has no step "${request.stepId}"` };
  if (flow.completed) return { ok: false, reason: 'flow_completed', detail: 'the flow is already completed' };
  if (flow.cancelled) return { ok: false, reason: 'flow_cancelled', detail: 'the flow was cancelled' };
  if (slot.status !== 'Failed')
    return { ok: false, reason: 'step_not_failed', detail: `the step is ${slot.status}, only a Failed step can be retried` };
  if (slot.retryCount >= request.maxRetries)
    return {
      ok: false,
      reason: 'max_retries_exceeded',
      detail: `${slot.retryCount} of ${request.maxRetries} retries already used`,
    };
  return {
    ok: true,
    event: {
      type: 'RetryScheduled',
      stepIndex,
      stepId: slot.stepId,
      retryIndex: slot.retryCount + 1,
      reason: request.reason,
      delayMs: request.delayMs,
      notBefore: new Date(request.now + request.delayMs).toISOString(),
    },
  };
}

/**
 * The limit a manual retry of `stepId` is held to when the operator gives none: the policy the flow
 * recorded when it started; for a log written before policies were recorded, the limit recorded with
 * the step's last failure; else `fallback` (the definition's or the engine's policy).
 */
export function manualRetryLimit(flow: FlowInstance, stepId: string, fallback: number): number {
  const index = flow.steps.findIndex((s) => s.stepId === stepId);
  const recorded = flow.policies?.[index]?.retry.maxRetries;
  if (recorded !== undefined) return recorded;
  const slot = flow.steps[index];
  return slot?.errors[slot.errors.length - 1]?.maxRetries ?? fallback;
}
