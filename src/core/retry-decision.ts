import type { RetryRejectionReason } from './errors.js';
import type { RetryScheduled } from './events.js';
import type { FlowInstance, StepSlot } from './flow-state.js';

export interface RetryRequest {
  stepId: string;
  /** The one shard of a sharded step to retry (automatic retries); absent: the step. */
  shard?: number;
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
  if (flow.status === 'completed') return { ok: false, reason: 'flow_completed', detail: 'the flow is already completed' };
  if (flow.status === 'cancelled') return { ok: false, reason: 'flow_cancelled', detail: 'the flow was cancelled' };
  if (request.shard !== undefined) return decideShardRetry(slot, stepIndex, request.shard, request);
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
 * A manual retry of a step: of the step itself, or, when it failed because shards failed, of each
 * failed shard (finished shards are never rerun). All or nothing: rejected when any of them has no
 * retry left, naming the shard.
 */
export function decideStepRetries(flow: FlowInstance, request: RetryRequest): { ok: true; events: RetryScheduled[] } | Extract<RetryDecision, { ok: false }> {
  const slot = flow.steps.find((s) => s.stepId === request.stepId);
  const failedShards = slot?.shards?.flatMap((s, i) => (s.status === 'Failed' ? [i] : [])) ?? [];
  if (failedShards.length === 0) {
    const single = decideRetry(flow, request);
    return single.ok ? { ok: true, events: [single.event] } : single;
  }
  const events: RetryScheduled[] = [];
  for (const shard of failedShards) {
    const decision = decideRetry(flow, { ...request, shard });
    if (!decision.ok) return decision;
    events.push(decision.event);
  }
  return { ok: true, events };
}

/** The same rule for one failed shard of a sharded step: its own retries, under the step's limit. */
function decideShardRetry(slot: StepSlot, stepIndex: number, index: number, request: RetryRequest): RetryDecision {
  const shard = slot.shards?.[index];
  const count = slot.shards?.length ?? 0;
  if (shard === undefined)
    return { ok: false, reason: 'step_not_failed', detail: `the step has no shard ${index} (it has ${count})` };
  if (shard.status !== 'Failed')
    return { ok: false, reason: 'step_not_failed', detail: `shard ${index} is ${shard.status}, only a Failed shard can be retried` };
  if (shard.retryCount >= request.maxRetries)
    return { ok: false, reason: 'max_retries_exceeded', detail: `shard ${index}: ${shard.retryCount} of ${request.maxRetries} retries already used` };
  return {
    ok: true,
    event: {
      type: 'RetryScheduled',
      stepIndex,
      stepId: slot.stepId,
      retryIndex: shard.retryCount + 1,
      reason: request.reason,
      delayMs: request.delayMs,
      notBefore: new Date(request.now + request.delayMs).toISOString(),
      shard: { index, count },
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
