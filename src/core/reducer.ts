import type { FlowShape, ShardPosition } from './definition.js';
import { CorruptEventError, DefinitionMismatchError } from './errors.js';
import type { EventOf, FlowEvent } from './events.js';
import { needsDone, openFlowStatus, type FlowInstance, type ShardSlot, type StepErrorEntry, type StepSlot } from './flow-state.js';
import { chainNeeds, topologicalOrder } from './step-graph.js';

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
      shards: null,
    })),
    // A list until its FlowInitialized says otherwise (`needs`): so are logs written before graphs.
    needs: chainNeeds(definition.steps.length),
    order: definition.steps.map((_, i) => i),
    status: 'pending',
    flowFingerprint: null,
    onFailure: 'stop',
    policies: null,
    version: 0,
  };
}

/** The first step in the flow's order that has neither finished nor been skipped; `steps.length` when none is left. */
function nextCursor(state: FlowInstance): number {
  const next = state.order.find((i) => state.steps[i]?.status !== 'FinishedOk' && state.steps[i]?.status !== 'Skipped');
  return next ?? state.steps.length;
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
  if (state.status === 'completed') corrupt(`${event.type} after FlowCompleted`);
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
    state.onFailure = event.onFailure ?? 'stop';
    if (event.needs !== undefined) {
      if (event.needs.length !== event.stepCount) corrupt(`needs for ${event.needs.length} steps of ${event.stepCount}`);
      const order = topologicalOrder(event.needs);
      if (order === null) corrupt('needs that form a cycle or name no step');
      state.needs = event.needs;
      state.order = order as number[];
      state.cursor = nextCursor(state);
    }
    return state;
  }
  if (state.status === 'cancelled' && !AFTER_CANCEL.has(event.type)) corrupt(`${event.type} after FlowCancelled`);
  if (event.type === 'FlowCancelled') {
    state.status = 'cancelled';
    return state;
  }
  if (event.type === 'FlowCompleted') {
    if (state.steps.some((s) => s.status !== 'FinishedOk' && s.status !== 'Skipped')) corrupt('FlowCompleted before every step finished or was skipped');
    state.status = 'completed';
    state.flowFingerprint = event.flowFingerprint;
    return state;
  }

  const before = state.status;
  const next = applyStep(state, event, corrupt);
  // A cancelled flow stays cancelled; any other's status follows its steps'.
  if (next.status !== 'cancelled') next.status = statusAfterStepEvent(next, before, event.stepIndex);
  return next;
}

/**
 * `openFlowStatus` of the state after an event of step `index`, without walking every step when the
 * flow stops at its first failure and had no Failed step before the event (its status was pending or
 * running): then only the step the event touched can change what the walk would find (a flow once
 * started stays started), so the replay of a long flow stays linear in its events.
 */
function statusAfterStepEvent(flow: FlowInstance, before: FlowInstance['status'], index: number): FlowInstance['status'] {
  if (flow.onFailure !== 'stop' || (before !== 'pending' && before !== 'running')) return openFlowStatus(flow);
  const slot = flow.steps[index] as StepSlot;
  if (slot.status === 'Failed') return 'failed';
  return before === 'running' || slot.status !== 'Pending' || slot.attempts > 0 ? 'running' : 'pending';
}

type StepEvent = Exclude<FlowEvent, { type: 'FlowInitialized' | 'FlowCompleted' | 'FlowCancelled' }>;

/** Applies an event of one step (or one of its shards) to the step's slot. */
function applyStep(state: FlowInstance, event: StepEvent, corrupt: (reason: string) => never): FlowInstance {
  const slot = state.steps[event.stepIndex];
  if (slot === undefined || slot.stepId !== event.stepId)
    return corrupt(`step ${event.stepId} is not at index ${event.stepIndex} of the definition`);
  const expect = (status: StepSlot['status']): void => {
    if (slot.status !== status) corrupt(`${event.type} for step ${slot.stepId} in status ${slot.status}`);
  };
  if (event.type === 'StepSkipped') {
    expect('Pending');
    if (!needsDone(state, event.stepIndex)) corrupt(`step ${event.stepId} skipped before the steps it needs finished`);
    state.steps[event.stepIndex] = { ...slot, status: 'Skipped', fingerprint: event.fingerprint, outputs: [], notBefore: null };
    state.cursor = nextCursor(state);
    return state;
  }
  if (event.shard !== undefined) return applyShard(state, event, event.shard, slot, corrupt);

  switch (event.type) {
    case 'StepStarted':
      expect('Pending');
      if (!needsDone(state, event.stepIndex)) corrupt(`step ${event.stepId} started before the steps it needs finished`);
      if (event.attempt !== slot.attempts + 1) corrupt(`attempt ${event.attempt} after ${slot.attempts}`);
      state.steps[event.stepIndex] = {
        ...slot,
        status: 'Running',
        attempts: event.attempt,
        startedAt: event.ts,
        finishedAt: null,
        notBefore: null,
        shards: event.shardCount === undefined ? null : Array.from({ length: event.shardCount }, pendingShard),
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
        if (state.status === 'cancelled') corrupt(`cached StepFinished for step ${slot.stepId} after FlowCancelled`);
        if (!needsDone(state, event.stepIndex)) corrupt(`step ${event.stepId} finished from the cache before the steps it needs finished`);
        if (event.attempt !== slot.attempts + 1) corrupt(`cached attempt ${event.attempt} after ${slot.attempts}`);
      } else expect('Running');
      const unfinished = slot.shards?.findIndex((s) => s.status !== 'FinishedOk') ?? -1;
      if (unfinished !== -1) corrupt(`StepFinished for step ${slot.stepId} before its shard ${unfinished} finished`);
      state.steps[event.stepIndex] = {
        ...slot,
        status: 'FinishedOk',
        fingerprint: event.fingerprint,
        outputs: event.outputs,
        finishedAt: event.ts,
        notBefore: null,
        cachedFrom,
      };
      state.cursor = nextCursor(state);
      return state;
    }
    case 'StepFailed':
      expect('Running');
      state.steps[event.stepIndex] = {
        ...slot,
        status: 'Failed',
        fingerprint: event.fingerprint,
        finishedAt: event.ts,
        errors: [...slot.errors, errorEntry(event)],
      };
      return state;
    case 'RetryScheduled':
      expect('Failed');
      if (event.retryIndex !== slot.retryCount + 1) corrupt(`retry ${event.retryIndex} after ${slot.retryCount}`);
      state.steps[event.stepIndex] = {
        ...slot,
        status: 'Pending',
        retryCount: event.retryIndex,
        notBefore: event.notBefore,
        // A retry of the whole step (its merge failed) splits its input again.
        shards: null,
      };
      return state;
  }
}

/**
 * An event of one shard of a sharded step. Shards run in parallel, so their events interleave; each
 * shard has its own small state machine (Pending → Running → FinishedOk | Failed → Pending ...). A
 * shard that failed with no retry fails the step, and so the flow, until a retry; shards in flight
 * then may still record their outcome (as after a cancellation), but none starts.
 */
function applyShard(
  state: FlowInstance,
  event: Exclude<StepEvent, { type: 'StepSkipped' }>,
  { index, count }: ShardPosition,
  slot: StepSlot,
  corrupt: (reason: string) => never,
): FlowInstance {
  const shards = slot.shards;
  if (shards === null) return corrupt(`shard event for step ${slot.stepId}, which did not start sharded`);
  if (count !== shards.length) corrupt(`shard ${index} of ${count} for step ${slot.stepId}, which has ${shards.length} shards`);
  const shard = shards[index];
  if (shard === undefined) return corrupt(`step ${slot.stepId} has no shard ${index}`);
  const expect = (status: ShardSlot['status']): void => {
    if (shard.status !== status) corrupt(`${event.type} for shard ${index} of step ${slot.stepId} in status ${shard.status}`);
  };
  const set = (next: ShardSlot, stepStatus: StepSlot['status'] = slot.status): FlowInstance => {
    const all = [...shards];
    all[index] = next;
    state.steps[event.stepIndex] = { ...slot, status: stepStatus, shards: all };
    return state;
  };
  switch (event.type) {
    case 'StepStarted':
      if (slot.status !== 'Running') corrupt(`shard ${index} of step ${slot.stepId} started while the step is ${slot.status}`);
      if (state.status === 'cancelled') corrupt(`shard ${index} of step ${slot.stepId} started after FlowCancelled`);
      expect('Pending');
      if (event.attempt !== shard.attempts + 1) corrupt(`shard ${index} attempt ${event.attempt} after ${shard.attempts}`);
      return set({ ...shard, status: 'Running', attempts: event.attempt, notBefore: null });
    case 'StepSignal':
      expect('Running');
      return state;
    case 'StepFinished':
      expect('Running');
      return set({ ...shard, status: 'FinishedOk', outputs: event.outputs });
    case 'StepFailed':
      expect('Running');
      state.steps[event.stepIndex] = {
        ...slot,
        status: 'Failed',
        fingerprint: event.fingerprint,
        errors: [...slot.errors, errorEntry(event)],
        shards: shards.map((s, i) => (i === index ? { ...s, status: 'Failed' } : s)),
      };
      return state;
    case 'RetryScheduled': {
      expect('Failed');
      if (event.retryIndex !== shard.retryCount + 1) corrupt(`shard ${index} retry ${event.retryIndex} after ${shard.retryCount}`);
      const next = { ...shard, status: 'Pending' as const, retryCount: event.retryIndex, notBefore: event.notBefore };
      const stillFailed = shards.some((s, i) => i !== index && s.status === 'Failed');
      return set(next, stillFailed ? 'Failed' : 'Running');
    }
  }
}

/** A failed attempt as the step's error history keeps it (a shard's too: its details name the shard). */
function errorEntry(event: EventOf<'StepFailed'>): StepErrorEntry {
  return {
    attemptNumber: event.attempt,
    errorClass: event.errorClass,
    code: event.error.code,
    message: event.error.message,
    details: event.details,
    retryCount: event.retryCount,
    maxRetries: event.maxRetries,
    timestamp: event.ts,
  };
}

function pendingShard(): ShardSlot {
  return { status: 'Pending', attempts: 0, retryCount: 0, notBefore: null, outputs: [] };
}

/** The shape recorded in a flow's first event, for reading a flow without its step code. */
export function shapeFromEvents(events: readonly FlowEvent[]): FlowShape | undefined {
  const first = events[0];
  if (first?.type !== 'FlowInitialized') return undefined;
  return { name: first.flowName, definitionHash: first.definitionHash, steps: first.stepIds.map((id) => ({ id })) };
}
