import type { JsonObject, JsonValue } from './canonical-json.js';
import type { FlowDefinition } from './definition.js';
import { classifyError, PermanentError, WorkerLostError, type ClassifiedError } from './error-class.js';
import { FlowNotRunnableError, type ArtifactIntegrityError } from './errors.js';
import type { CachedFrom, FlowEvent, FlowEventBody, RetryScheduled, StepFailed, StepFinished, StepStarted } from './events.js';
import { flowFingerprint, stepFingerprint } from './fingerprint.js';
import type { FlowPlan, StepPlan } from './flow-plan.js';
import type { FlowInstance, StepSlot } from './flow-state.js';
import { hashCanonical } from './hash.js';
import { evolve } from './reducer.js';
import { decideRetry } from './retry-decision.js';
import { retriesClass } from './retry-policy.js';
import type { StepPolicyRecord } from './step-policy.js';
import { storableFailure } from './storable-failure.js';

/**
 * The decide half of the engine (Emmett's decide/evolve pair; `evolve` is the reducer): pure functions
 * from a flow's state, its plan and the time to the events that come next. The engine only loads,
 * runs steps and commits what these return, so every rule of the state machine is here, testable
 * without a store.
 */

/** What happens next to a flow. */
export type Decision =
  /** This caller committed the step's StepStarted (chained to the previous commit): run the attempt now. */
  | { kind: 'run'; index: number }
  /** Commit `events` (the step's StepStarted), then run the attempt. */
  | { kind: 'start'; index: number; events: FlowEventBody[] }
  /** The next attempt is a retry not due before `until` (epoch ms). */
  | { kind: 'wait'; index: number; until: number }
  /** A Running attempt nobody runs any more (its process lost its lease): record it as lost. */
  | { kind: 'recover'; index: number; events: FlowEventBody[]; retry: RetryVerdict }
  /** Every step finished: commit the FlowCompleted. */
  | { kind: 'complete'; events: FlowEventBody[] }
  /** Nothing will ever run again. */
  | { kind: 'ended'; status: 'completed' | 'failed' | 'cancelled' };

/** What the policy made of a failure: a retry scheduled, a retry refused (none left), or no retry for its class. */
export type RetryVerdict = { outcome: 'scheduled'; event: RetryScheduled } | { outcome: 'rejected' } | null;

export interface DecideOptions {
  /** Epoch milliseconds. */
  now: number;
  /** Index of a step whose StepStarted this caller committed and has not run yet. */
  startedHere: number | null;
}

export function decide(flow: FlowInstance, plan: FlowPlan, { now, startedHere }: DecideOptions): Decision {
  if (flow.completed) return { kind: 'ended', status: 'completed' };
  if (flow.cancelled) return { kind: 'ended', status: 'cancelled' };
  if (flow.failed) return { kind: 'ended', status: 'failed' };
  const running = flow.steps.findIndex((s) => s.status === 'Running');
  if (running !== -1 && running === startedHere) return { kind: 'run', index: running };
  if (running !== -1) {
    const failure = classifyError(new WorkerLostError(slotAt(flow, running).attempts));
    const { events, retry } = failedAttempt(flow, plan, running, { error: failure, signals: [] }, { now, chain: false });
    return { kind: 'recover', index: running, events, retry };
  }
  if (flow.cursor >= flow.steps.length) return { kind: 'complete', events: [completedEvent(flow)] };
  const index = flow.cursor;
  const notBefore = slotAt(flow, index).notBefore;
  const until = notBefore === null ? 0 : Date.parse(notBefore);
  if (until > now) return { kind: 'wait', index, until };
  return { kind: 'start', index, events: [startedEvent(flow, index)] };
}

/** Something a step emitted while it ran; recorded as a StepSignal with its outcome. */
export interface Signal {
  name: string;
  data: JsonValue;
}

/** How an attempt ended, as data: outputs by hash, or the classified error. */
export type AttemptOutcome =
  /** `cachedFrom`: the step did not run; its outputs are those of a finished step with the same cache key. */
  | { ok: true; outputs: readonly string[]; signals: readonly Signal[]; cachedFrom?: CachedFrom }
  | { ok: false; error: ClassifiedError; signals: readonly Signal[] };

export interface RecordOptions {
  now: number;
  /**
   * Start what comes next in the same commit: the next step after a success, or the retry of a failure
   * when it is due at once. Its StepStarted is still durable before it runs, with one commit fewer.
   */
  chain: boolean;
}

/** The events that record an attempt's outcome, and what they start. */
export interface Recorded {
  events: FlowEventBody[];
  retry: RetryVerdict;
  /** The step whose StepStarted these events include (chained), if any. */
  starts: number | null;
}

/** Records the outcome of the Running attempt of step `index`. */
export function recordAttempt(flow: FlowInstance, plan: FlowPlan, index: number, outcome: AttemptOutcome, options: RecordOptions): Recorded {
  if (!outcome.ok) return failedAttempt(flow, plan, index, outcome, options);
  const slot = slotAt(flow, index);
  const finished: StepFinished = {
    type: 'StepFinished',
    stepIndex: index,
    stepId: slot.stepId,
    attempt: slot.attempts,
    outputs: [...outcome.outputs],
    fingerprint: fingerprintOf(flow, plan, index),
    ...(outcome.cachedFrom === undefined ? {} : { cachedFrom: { ...outcome.cachedFrom } }),
  };
  const events: FlowEventBody[] = [...signalEvents(slot, index, outcome.signals), finished];
  const after = lookAhead(flow, [finished]);
  if (index === flow.steps.length - 1) return { events: [...events, completedEvent(after)], retry: null, starts: null };
  if (!options.chain) return { events, retry: null, starts: null };
  return { events: [...events, startedEvent(after, index + 1)], retry: null, starts: index + 1 };
}

/**
 * The seeds' `emit_step_failed`: the one path of every failed attempt, thrown or lost. The StepFailed
 * (whose `step_execution_errors` row the store writes in its transaction) and, when the policy retries
 * this class and a retry is left, the automatic RetryScheduled.
 */
function failedAttempt(
  flow: FlowInstance,
  plan: FlowPlan,
  index: number,
  outcome: { error: ClassifiedError; signals: readonly Signal[] },
  { now, chain }: RecordOptions,
): Recorded {
  const slot = slotAt(flow, index);
  const step = stepAt(plan, index);
  // Whatever text the step threw, its StepFailed and error row must commit: never leave it Running.
  const error = storableFailure(outcome.error);
  const failed: StepFailed = {
    type: 'StepFailed',
    stepIndex: index,
    stepId: slot.stepId,
    attempt: slot.attempts,
    errorClass: error.errorClass,
    error: { code: error.code, message: error.message },
    details: {
      ...error.details,
      stack_trace: error.stack ?? null,
      input_hash: hashCanonical([...inputHashesOf(flow, index)].sort()),
      params: step.params,
    },
    fingerprint: fingerprintOf(flow, plan, index),
    retryCount: slot.retryCount,
    maxRetries: step.policy.maxRetries,
  };
  const events: FlowEventBody[] = [...signalEvents(slot, index, outcome.signals), failed];
  const retry = automaticRetry(flow, step, failed, error, now);
  if (retry?.outcome !== 'scheduled') return { events, retry, starts: null };
  events.push(retry.event);
  if (!chain || Date.parse(retry.event.notBefore) > now) return { events, retry, starts: null };
  return { events: [...events, startedEvent(lookAhead(flow, [failed, retry.event]), index)], retry, starts: index };
}

/** Asks the step's policy whether this failure is retried by itself (the same gate as a manual retry). */
function automaticRetry(flow: FlowInstance, step: StepPlan, failed: StepFailed, error: ClassifiedError, now: number): RetryVerdict {
  if (!retriesClass(step.policy, error.errorClass)) return null;
  const delayMs = error.retryAfterMs ?? step.policy.delayFor(failed.retryCount + 1, `${flow.id}/${step.id}`);
  const decision = decideRetry(lookAhead(flow, [failed]), {
    stepId: step.id,
    maxRetries: step.policy.maxRetries,
    delayMs,
    reason: `automatic: ${error.errorClass} ${error.code}`,
    now,
  });
  return decision.ok ? { outcome: 'scheduled', event: decision.event } : { outcome: 'rejected' };
}

/** A corrupt input is never handed to a step: its attempt fails, Permanent, since reading it again gives the same bytes. */
export function corruptInputFailure(error: ArtifactIntegrityError): ClassifiedError {
  return classifyError(
    new PermanentError(error.message, {
      code: error.code,
      details: {
        artifact_hash: error.expectedHash,
        actual_hash: error.actualHash,
        produced_by: error.producedBy === null ? null : { flow_id: error.producedBy.flowId, step_id: error.producedBy.stepId },
      },
      cause: error,
    }),
  );
}

/** The first event of a flow. Its policies are recorded outside every hash. */
export function initializedEvent(definition: FlowDefinition, metadata: JsonObject, policies: readonly StepPolicyRecord[]): FlowEventBody {
  return {
    type: 'FlowInitialized',
    definitionHash: definition.definitionHash,
    stepCount: definition.steps.length,
    flowName: definition.name,
    stepIds: definition.steps.map((s) => s.id),
    metadata,
    policies: [...policies],
  };
}

export function startedEvent(flow: FlowInstance, index: number): StepStarted {
  const slot = slotAt(flow, index);
  return { type: 'StepStarted', stepIndex: index, stepId: slot.stepId, attempt: slot.attempts + 1 };
}

function completedEvent(flow: FlowInstance): FlowEventBody {
  return { type: 'FlowCompleted', flowFingerprint: flowFingerprint(flow.steps.map((s) => s.fingerprint ?? '')) };
}

function signalEvents(slot: StepSlot, index: number, signals: readonly Signal[]): FlowEventBody[] {
  return signals.map((s) => ({ type: 'StepSignal', stepIndex: index, stepId: slot.stepId, attempt: slot.attempts, name: s.name, data: s.data }));
}

/** The hashes a step's input has, from the log alone (the previous step's outputs): no artifact is read. */
export function inputHashesOf(flow: FlowInstance, index: number): readonly string[] {
  return index === 0 ? [] : slotAt(flow, index - 1).outputs;
}

/** The one computation of a step's fingerprint: its inputs' hashes, params, id, definition and engine. */
export function fingerprintOf(flow: FlowInstance, plan: FlowPlan, index: number): string {
  const step = stepAt(plan, index);
  return stepFingerprint({
    engineVersion: plan.engineVersion,
    stepId: step.id,
    inputHashes: inputHashesOf(flow, index),
    params: step.params,
    definitionHash: plan.definitionHash,
  });
}

/** The state after `bodies`, looked ahead before they are committed. */
export function lookAhead(flow: FlowInstance, bodies: readonly FlowEventBody[]): FlowInstance {
  return bodies.reduce((state, body) => evolve(state, asStored(state, body)), flow);
}

/** An event as the reducer will see it once stored. */
function asStored(flow: FlowInstance, body: FlowEventBody): FlowEvent {
  return { ...body, flowId: flow.id, version: flow.version + 1, seq: 0, ts: '', schemaVersion: 1 };
}

/** Throws `FlowNotRunnableError` for a flow that will never run again (completed, cancelled, failed). */
export function assertRunnable(flow: FlowInstance): void {
  if (flow.completed) throw new FlowNotRunnableError(flow.id, 'completed');
  if (flow.cancelled) throw new FlowNotRunnableError(flow.id, 'cancelled');
  if (flow.failed) throw new FlowNotRunnableError(flow.id, 'failed', flow.steps.find((s) => s.status === 'Failed')?.stepId);
}

export function slotAt(flow: FlowInstance, index: number): StepSlot {
  const slot = flow.steps[index];
  if (slot === undefined) throw new RangeError(`Flow ${flow.id} has no step at index ${index}`);
  return slot;
}

function stepAt(plan: FlowPlan, index: number): StepPlan {
  const step = plan.steps[index];
  if (step === undefined) throw new RangeError(`The plan has no step at index ${index}`);
  return step;
}
