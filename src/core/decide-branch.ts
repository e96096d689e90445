import { classifyError, WorkerLostError } from './error-class.js';
import type { FlowEventBody } from './events.js';
import type { FlowPlan } from './flow-plan.js';
import { isEnded, needsDone, type FlowInstance } from './flow-state.js';
import { lookAhead, recordAttempt, startedEvent, type RetryVerdict } from './decide.js';

/**
 * How a graph step published as a work item goes on, for a caller that holds that item's lease (so a
 * Running attempt of it is one nobody runs any more: its holder's lease expired; recorded lost with no
 * retry when another step failed the flow for good). `closed`: nothing to
 * run here (finished, skipped, failed until a retry, the flow ended, or a step its coordinator starts
 * itself: a mapped step, a step with a condition, a step whose needs were all skipped).
 */
export type BranchDecision =
  | { kind: 'start'; events: FlowEventBody[] }
  /** The lost attempt's `StepFailed WORKER_LOST` (+ its automatic retry, + that retry's start when due at once: `starts`). */
  | { kind: 'recover'; events: FlowEventBody[]; retry: RetryVerdict; starts: boolean }
  | { kind: 'wait'; until: number }
  | { kind: 'closed' };

export function decideBranch(flow: FlowInstance, plan: FlowPlan, index: number, { now }: { now: number }): BranchDecision {
  const slot = flow.steps[index];
  const step = plan.steps[index];
  if (slot === undefined || step === undefined || slot.shards !== null || flow.status === 'completed' || flow.status === 'cancelled') return { kind: 'closed' };
  if (slot.status === 'Running') {
    const lost = { ok: false as const, error: classifyError(new WorkerLostError(slot.attempts)), signals: [] };
    // When another step failed the flow for good, the lost attempt is recorded with no retry (`automaticRetry`).
    const recorded = recordAttempt(flow, plan, index, lost, { now, chain: false });
    const after = lookAhead(flow, recorded.events);
    // The retry starts in the same commit when it is due at once and the flow may still start steps.
    const retrySlot = after.steps[index];
    const due = retrySlot?.status === 'Pending' && (retrySlot.notBefore === null || Date.parse(retrySlot.notBefore) <= now);
    if (!due || isEnded(after.status)) return { kind: 'recover', events: recorded.events, retry: recorded.retry, starts: false };
    return { kind: 'recover', events: [...recorded.events, startedEvent(after, index)], retry: recorded.retry, starts: true };
  }
  if (slot.status !== 'Pending' || isEnded(flow.status) || !needsDone(flow, index)) return { kind: 'closed' };
  if (step.map !== undefined || step.when !== null || needsOnlySkipped(flow, index)) return { kind: 'closed' };
  const until = slot.notBefore === null ? 0 : Date.parse(slot.notBefore);
  if (until > now) return { kind: 'wait', until };
  return { kind: 'start', events: [startedEvent(flow, index)] };
}

/** Whether step `index` may be published as a work item when it is next: a plain step (its coordinator starts the others). */
export function isBranchItem(plan: FlowPlan, index: number): boolean {
  const step = plan.steps[index];
  return step !== undefined && step.map === undefined && step.when === null;
}

function needsOnlySkipped(flow: FlowInstance, index: number): boolean {
  const needs = flow.needs[index] ?? [];
  return needs.length > 0 && needs.every((i) => flow.steps[i]?.status === 'Skipped');
}
