import type { FlowShape } from './definition.js';
import { CorruptEventError, DefinitionMismatchError } from './errors.js';
import type { FlowEvent } from './events.js';
import type { FlowInstance, StepSlot } from './flow-state.js';

/** The state of a flow before its first event. */
export function initialFlowState(flowId: string, definition: FlowShape): FlowInstance {
  return {
    id: flowId,
    name: definition.name,
    definitionHash: definition.definitionHash,
    cursor: 0,
    steps: definition.steps.map((step) => ({
      stepId: step.id,
      status: 'Pending',
      fingerprint: null,
      outputs: [],
      startedAt: null,
      finishedAt: null,
      attempts: 0,
      retryCount: 0,
      notBefore: null,
      errors: [],
      cachedFrom: null,
    })),
    completed: false,
    failed: false,
    cancelled: false,
    flowFingerprint: null,
    policies: null,
    version: 0,
  };
}

/**
 * The replay reducer: `(state, event) → state`, pure. It also guards the state machine, so a log that
 * was tampered with or written by a buggy producer is rejected with the flow and version at fault
 * instead of silently rebuilding a wrong state.
 */
export function evolve(state: FlowInstance, event: FlowEvent): FlowInstance {
  return apply({ ...state, steps: [...state.steps] }, event);
}

/** What may follow a FlowCancelled: the outcome of the attempt that was in flight, nothing else. */
const AFTER_CANCEL: ReadonlySet<FlowEvent['type']> = new Set(['StepSignal', 'StepFinished', 'StepFailed']);

/** Replays a flow's events (ordered by version) into its current state. */
export function replay(flowId: string, events: readonly FlowEvent[], definition: FlowShape): FlowInstance {
  // One private copy, mutated event by event: the fold stays pure for callers and linear in time.
  let state: FlowInstance = initialFlowState(flowId, definition);
  for (const event of events) state = apply(state, event);
  return state;
}

/** Applies one event to a state whose `steps` array the caller owns. */
function apply(state: FlowInstance, event: FlowEvent): FlowInstance {
  const corrupt = (reason: string): never => {
    throw new CorruptEventError(state.id, event.version, reason);
  };
  if (event.flowId !== state.id) corrupt(`belongs to flow ${event.flowId}`);
  if (event.version !== state.version + 1) corrupt(`expected version ${state.version + 1}`);
  if (state.completed) corrupt(`${event.type} after FlowCompleted`);
  if (event.type !== 'FlowInitialized' && state.version === 0) corrupt(`${event.type} before FlowInitialized`);
  state.version = event.version;

  if (event.type === 'FlowInitialized') {
    if (state.version !== 1) corrupt('FlowInitialized is not the first event');
    if (event.definitionHash !== state.definitionHash)
      throw new DefinitionMismatchError(state.id, event.definitionHash, state.definitionHash);
    if (event.stepCount !== state.steps.length) corrupt(`stepCount ${event.stepCount} != ${state.steps.length}`);
    if (event.policies !== undefined && event.policies.length !== event.stepCount)
      corrupt(`${event.policies.length} step policies for ${event.stepCount} steps`);
    state.name = event.flowName;
    state.policies = event.policies ?? null;
    return state;
  }
  if (state.cancelled && !AFTER_CANCEL.has(event.type)) corrupt(`${event.type} after FlowCancelled`);
  if (event.type === 'FlowCancelled') {
    state.cancelled = true;
    return state;
  }
  if (event.type === 'FlowCompleted') {
    if (state.steps.some((s) => s.status !== 'FinishedOk')) corrupt('FlowCompleted before every step finished');
    state.completed = true;
    state.flowFingerprint = event.flowFingerprint;
    return state;
  }

  const slot = state.steps[event.stepIndex];
  if (slot === undefined || slot.stepId !== event.stepId)
    return corrupt(`step ${event.stepId} is not at index ${event.stepIndex} of the definition`);
  const expect = (status: StepSlot['status']): void => {
    if (slot.status !== status) corrupt(`${event.type} for step ${slot.stepId} in status ${slot.status}`);
  };

  switch (event.type) {
    case 'StepStarted':
      expect('Pending');
      if (event.stepIndex !== state.cursor) corrupt(`step ${event.stepId} started before step ${state.cursor}`);
      if (event.attempt !== slot.attempts + 1) corrupt(`attempt ${event.attempt} after ${slot.attempts}`);
      state.steps[event.stepIndex] = {
        ...slot,
        status: 'Running',
        attempts: event.attempt,
        startedAt: event.ts,
        finishedAt: null,
        notBefore: null,
      };
      return state;
    case 'StepSignal':
      expect('Running');
      return state; // signals are observations, never state
    case 'StepFinished': {
      const cachedFrom = event.cachedFrom ?? null;
      if (cachedFrom !== null && slot.status === 'Pending') {
        // A step satisfied from the cache need not start: its StepFinished may follow a Pending slot,
        // at the cursor, numbered as the attempt it replaces, and never after a cancellation.
        if (state.cancelled) corrupt(`cached StepFinished for step ${slot.stepId} after FlowCancelled`);
        if (event.stepIndex !== state.cursor) corrupt(`step ${event.stepId} finished from the cache before step ${state.cursor}`);
        if (event.attempt !== slot.attempts + 1) corrupt(`cached attempt ${event.attempt} after ${slot.attempts}`);
      } else expect('Running');
      state.steps[event.stepIndex] = {
        ...slot,
        status: 'FinishedOk',
        fingerprint: event.fingerprint,
        outputs: event.outputs,
        finishedAt: event.ts,
        notBefore: null,
        cachedFrom,
      };
      state.cursor = event.stepIndex + 1;
      return state;
    }
    case 'StepFailed':
      expect('Running');
      state.steps[event.stepIndex] = {
        ...slot,
        status: 'Failed',
        fingerprint: event.fingerprint,
        finishedAt: event.ts,
        errors: [
          ...slot.errors,
          {
            attemptNumber: event.attempt,
            errorClass: event.errorClass,
            code: event.error.code,
            message: event.error.message,
            details: event.details,
            retryCount: event.retryCount,
            maxRetries: event.maxRetries,
            timestamp: event.ts,
          },
        ],
      };
      state.failed = true;
      return state;
    case 'RetryScheduled':
      expect('Failed');
      if (event.retryIndex !== slot.retryCount + 1) corrupt(`retry ${event.retryIndex} after ${slot.retryCount}`);
      state.steps[event.stepIndex] = {
        ...slot,
        status: 'Pending',
        retryCount: event.retryIndex,
        notBefore: event.notBefore,
      };
      state.failed = state.steps.some((s) => s.status === 'Failed');
      return state;
  }
}

/** The shape recorded in a flow's first event, for reading a flow without its step code. */
export function shapeFromEvents(events: readonly FlowEvent[]): FlowShape | undefined {
  const first = events[0];
  if (first?.type !== 'FlowInitialized') return undefined;
  return { name: first.flowName, definitionHash: first.definitionHash, steps: first.stepIds.map((id) => ({ id })) };
}
