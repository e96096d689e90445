import type { JsonObject, JsonValue } from './canonical-json.js';
import type { FlowDefinition } from './definition.js';
import { classifyError, FlowCancelledError, PermanentError, WorkerLostError, type ClassifiedError } from './error-class.js';
import { FlowNotRunnableError, type ArtifactIntegrityError } from './errors.js';
import type { CachedFrom, FlowEvent, FlowEventBody, RetryScheduled, StepFailed, StepFinished, StepSkipped, StepStarted } from './events.js';
import { flowFingerprint, stepFingerprint } from './fingerprint.js';
import type { FlowPlan, StepPlan } from './flow-plan.js';
import { failedStep, isEnded, needsDone, type EndedFlowStatus, type FlowInstance, type StepSlot } from './flow-state.js';
import { hashCanonical } from './hash.js';
import { evolve } from './reducer.js';
import { decideRetry } from './retry-decision.js';
import { retriesClass } from './retry-policy.js';
import type { StepPolicyRecord } from './step-policy.js';
import { isChain } from './step-graph.js';
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
  /** A mapped step is next: read its input to count its shards, then commit `splitStartedEvent`. */
  | { kind: 'split'; index: number }
  /** A step with a condition is next: read the output it names, then skip it (`skippedEvent`) or start it. */
  | { kind: 'evaluate'; index: number }
  /** Every step the next one needs was skipped: commit `events` (its StepSkipped). */
  | { kind: 'skip'; index: number; events: FlowEventBody[] }
  /** A step that started sharded is Running: run and collect its shards, then merge them (see `decideShard`). */
  | { kind: 'shards'; index: number }
  /** The next attempt is a retry not due before `until` (epoch ms). */
  | { kind: 'wait'; index: number; until: number }
  /** A Running attempt nobody runs any more (its process lost its lease): record it as lost. */
  | { kind: 'recover'; index: number; events: FlowEventBody[]; retry: RetryVerdict }
  /** Every step finished: commit the FlowCompleted. */
  | { kind: 'complete'; events: FlowEventBody[] }
  /** Every step that could start is in flight in this process (`inFlight`): wait for one to end. */
  | { kind: 'busy' }
  /** Nothing will ever run again. */
  | { kind: 'ended'; status: EndedFlowStatus };

/** What the policy made of a failure: a retry scheduled, a retry refused (none left), or no retry for its class. */
export type RetryVerdict = { outcome: 'scheduled'; event: RetryScheduled } | { outcome: 'rejected' } | null;

export interface DecideOptions {
  /** Epoch milliseconds. */
  now: number;
  /** Index of a step whose StepStarted this caller committed and has not run yet. */
  startedHere: number | null;
  /**
   * Steps this caller is starting or running at the same time (branches of a graph): not lost when
   * Running, not to start again when Pending.
   */
  inFlight?: ReadonlySet<number>;
}

const NONE: ReadonlySet<number> = new Set();

export function decide(flow: FlowInstance, plan: FlowPlan, { now, startedHere, inFlight = NONE }: DecideOptions): Decision {
  if (isEnded(flow.status)) return { kind: 'ended', status: flow.status };
  const running = flow.steps.findIndex((s, i) => s.status === 'Running' && !inFlight.has(i));
  // A sharded step has no attempt of its own to lose: each shard is recovered on its own.
  if (running !== -1 && slotAt(flow, running).shards !== null) return { kind: 'shards', index: running };
  if (running !== -1 && running === startedHere) return { kind: 'run', index: running };
  if (running !== -1) {
    const failure = classifyError(new WorkerLostError(slotAt(flow, running).attempts));
    const { events, retry } = failedAttempt(flow, plan, running, { error: failure, signals: [] }, { now, chain: false });
    return { kind: 'recover', index: running, events, retry };
  }
  if (flow.cursor >= flow.steps.length) return { kind: 'complete', events: [completedEvent(flow)] };
  // The first step in the flow's order that may start now; else the one whose retry is due soonest.
  let waiting: { index: number; until: number } | null = null;
  for (const index of flow.order) {
    if (slotAt(flow, index).status !== 'Pending' || inFlight.has(index) || !needsDone(flow, index)) continue;
    if (needsOnlySkipped(flow, index)) return { kind: 'skip', index, events: [skippedEvent(flow, plan, index, 'needs-skipped')] };
    const notBefore = slotAt(flow, index).notBefore;
    const until = notBefore === null ? 0 : Date.parse(notBefore);
    if (until > now) {
      if (waiting === null || until < waiting.until) waiting = { index, until };
      continue;
    }
    if (stepAt(plan, index).when !== null) return { kind: 'evaluate', index };
    if (stepAt(plan, index).map !== undefined) return { kind: 'split', index };
    return { kind: 'start', index, events: [startedEvent(flow, index)] };
  }
  if (waiting !== null) return { kind: 'wait', index: waiting.index, until: waiting.until };
  return { kind: 'busy' };
}


/** Whether step `index` needs steps and every one of them was skipped: then it is skipped too. */
function needsOnlySkipped(flow: FlowInstance, index: number): boolean {
  const needs = flow.needs[index] ?? [];
  return needs.length > 0 && needs.every((i) => flow.steps[i]?.status === 'Skipped');
}

/** The StepSkipped of step `index`: its fingerprint is derived from the one it would have run with. */
export function skippedEvent(flow: FlowInstance, plan: FlowPlan, index: number, reason: StepSkipped['reason']): StepSkipped {
  return { type: 'StepSkipped', stepIndex: index, stepId: slotAt(flow, index).stepId, reason, fingerprint: hashCanonical({ skipped: fingerprintOf(flow, plan, index) }) };
}

/**
 * The step a chained commit starts after `after` (the flow once the outcome is recorded), if any: in a
 * list the next step; in a graph the one `decide` would start next (`chain` is only asked for when no
 * other step is in flight). Never a step whose start needs a read first (a split, a condition) or one
 * that is skipped.
 */
function chainedStart(after: FlowInstance, plan: FlowPlan, now: number): number | null {
  if (isChain(after.needs)) {
    const next = after.cursor;
    const step = stepAt(plan, next);
    return step.map === undefined && step.when === null && !needsOnlySkipped(after, next) ? next : null;
  }
  const next = decide(after, plan, { now, startedHere: null });
  return next.kind === 'start' ? next.index : null;
}

/**
 * How a Running sharded step's shard goes on, for a caller that holds that shard's lease (so a Running
 * attempt of it is one nobody runs any more). `closed`: nothing to run (finished, failed until a
 * retry, or the step or flow no longer runs shards). In a flow that failed (a sibling shard or another
 * step failed for good), a lost attempt is recorded with no retry, and no shard starts.
 */
export type ShardDecision =
  | { kind: 'start'; events: FlowEventBody[] }
  | { kind: 'recover'; events: FlowEventBody[]; retry: RetryVerdict; starts: boolean }
  | { kind: 'wait'; until: number }
  | { kind: 'closed' };

export function decideShard(flow: FlowInstance, plan: FlowPlan, index: number, shard: number, { now }: { now: number }): ShardDecision {
  const slot = flow.steps[index];
  const state = slot?.shards?.[shard];
  if (slot === undefined || state === undefined || flow.status === 'completed' || flow.status === 'cancelled') return { kind: 'closed' };
  if (state.status === 'Running') {
    // In a failed flow the lost attempt gets no retry (`automaticRetry`), so nothing starts after it.
    const failure = classifyError(new WorkerLostError(state.attempts));
    const recorded = failedAttempt(flow, plan, index, { error: failure, signals: [] }, { now, chain: true }, shard);
    return { kind: 'recover', events: recorded.events, retry: recorded.retry, starts: recorded.starts !== null };
  }
  if (state.status !== 'Pending' || slot.status !== 'Running' || flow.status === 'failed') return { kind: 'closed' };
  const until = state.notBefore === null ? 0 : Date.parse(state.notBefore);
  if (until > now) return { kind: 'wait', until };
  return { kind: 'start', events: [shardStartedEvent(flow, index, shard)] };
}

/**
 * The attempts of a cancelled flow that nobody runs any more, each recorded as lost (`WORKER_LOST`,
 * with its error row), with no retry since the flow is cancelled: a step's (the caller holds the flow's
 * lease, so the process that ran it is gone) and each shard's that `shardHeld` does not name (its lease
 * is free or expired, or its holder is known to be gone). Then each mapped step left Running with no
 * shard running is ended (`closeCancelledStep`). Without them a cancelled flow whose worker died, or
 * whose shards stopped between claims, would show a Running step for ever: nothing claims a cancelled
 * flow again.
 */
export function lostAttemptsOfCancelled(
  flow: FlowInstance,
  plan: FlowPlan,
  {
    now,
    shardHeld = () => false,
    stepHeld = () => false,
  }: { now: number; shardHeld?: (index: number, shard: number) => boolean; stepHeld?: (index: number) => boolean },
): FlowEventBody[] {
  if (flow.status !== 'cancelled') return [];
  const events: FlowEventBody[] = [];
  let state = flow;
  const record = (recorded: readonly FlowEventBody[]): void => {
    events.push(...recorded);
    state = lookAhead(state, recorded);
  };
  const lose = (index: number, attempts: number, shard?: number): void => {
    const lost = { error: classifyError(new WorkerLostError(attempts)), signals: [] };
    record(failedAttempt(state, plan, index, lost, { now, chain: false }, shard).events);
  };
  flow.steps.forEach((slot, index) => {
    // A graph step run as a work item by a live worker is that worker's to record (at its next heartbeat).
    if (slot.status === 'Running' && slot.shards === null && !stepHeld(index)) lose(index, slot.attempts);
    slot.shards?.forEach((s, shard) => {
      if (s.status === 'Running' && !shardHeld(index, shard)) lose(index, s.attempts, shard);
    });
    record(closeCancelledStep(state, plan, index, { now }));
  });
  return events;
}

/**
 * A mapped step of a cancelled flow that is still Running with no shard running (its shards in flight
 * finished, the others will never start) ends as the step's own failed attempt, `Permanent`
 * `FLOW_CANCELLED` (with its error row), as an unsharded attempt stopped by a cancel does. Nothing for
 * any other step, or while a shard still runs (its outcome, recorded later, ends the step then).
 */
export function closeCancelledStep(flow: FlowInstance, plan: FlowPlan, index: number, { now }: { now: number }): FlowEventBody[] {
  const slot = slotAt(flow, index);
  if (flow.status !== 'cancelled' || slot.status !== 'Running' || slot.shards === null || slot.shards.some((s) => s.status === 'Running')) return [];
  return failedAttempt(flow, plan, index, { error: classifyError(new FlowCancelledError(null)), signals: [] }, { now, chain: false }).events;
}

/**
 * What is left of `events`, decided by the holder of a flow's lease on an older state, once the log
 * moved on to `flow`: after a FlowCancelled, only the outcome of the attempt in flight (its signals,
 * StepFinished or StepFailed, while that attempt is still the Running one) and nothing started;
 * `null` when the log moved on for another reason (another process took the flow over): nothing of
 * them may be appended, the conflict is the holder's.
 */
export function afterConflict(flow: FlowInstance, events: readonly FlowEventBody[]): FlowEventBody[] | null {
  if (flow.status !== 'cancelled') return null;
  const outcome = events.filter((b) => b.type === 'StepSignal' || b.type === 'StepFinished' || b.type === 'StepFailed');
  const attempt = outcome[0];
  const inFlight = attempt === undefined ? undefined : flow.steps[attempt.stepIndex];
  return attempt !== undefined && inFlight?.status === 'Running' && inFlight.attempts === attempt.attempt ? outcome : [];
}

/** The step whose attempt the appender of `events` runs next itself: the last whole step they start (not a shard, not a split). */
export function startedBy(events: readonly FlowEventBody[]): number | null {
  let index: number | null = null;
  for (const e of events) if (e.type === 'StepStarted' && e.shard === undefined && e.shardCount === undefined) index = e.stepIndex;
  return index;
}

/** Whether an attempt of the flow is Running: a step's, a mapped step's (until it ends), or a shard's. */
export function hasRunningAttempt(flow: FlowInstance): boolean {
  return flow.steps.some((s) => s.status === 'Running' || (s.shards?.some((shard) => shard.status === 'Running') ?? false));
}

/** Records the outcome of the Running attempt of one shard; a due retry of it is chained when asked. */
export function recordShardAttempt(
  flow: FlowInstance,
  plan: FlowPlan,
  index: number,
  shard: number,
  outcome: AttemptOutcome,
  options: RecordOptions,
): Recorded {
  if (!outcome.ok) return failedAttempt(flow, plan, index, outcome, options, shard);
  const slot = slotAt(flow, index);
  const position = shardPosition(slot, shard);
  const attempt = slot.shards?.[shard]?.attempts ?? 0;
  const signals = signalEvents(slot, index, outcome.signals).map((e) => ({ ...e, attempt, shard: position }));
  const finished: StepFinished = {
    type: 'StepFinished',
    stepIndex: index,
    stepId: slot.stepId,
    attempt,
    outputs: [...outcome.outputs],
    fingerprint: fingerprintOf(flow, plan, index),
    shard: position,
  };
  // The last shard in flight of a cancelled flow ends its step: no other shard will start.
  const closing = flow.status === 'cancelled' ? closeCancelledStep(lookAhead(flow, [...signals, finished]), plan, index, { now: options.now }) : [];
  return { events: [...signals, finished, ...closing], retry: null, starts: null };
}

/** Whether every shard of sharded step `index` finished: its outputs can be merged. */
export function allShardsFinished(flow: FlowInstance, index: number): boolean {
  const shards = slotAt(flow, index).shards;
  return shards !== null && shards.every((s) => s.status === 'FinishedOk');
}

/** The StepStarted of a mapped step that splits into `shardCount` shards. */
export function splitStartedEvent(flow: FlowInstance, index: number, shardCount: number): StepStarted {
  return { ...startedEvent(flow, index), shardCount };
}

function shardStartedEvent(flow: FlowInstance, index: number, shard: number): StepStarted {
  const slot = slotAt(flow, index);
  const attempts = slot.shards?.[shard]?.attempts ?? 0;
  return { type: 'StepStarted', stepIndex: index, stepId: slot.stepId, attempt: attempts + 1, shard: shardPosition(slot, shard) };
}

function shardPosition(slot: StepSlot, shard: number): { index: number; count: number } {
  const count = slot.shards?.length ?? 0;
  if (shard < 0 || shard >= count) throw new RangeError(`Step ${slot.stepId} has no shard ${shard} (it has ${count})`);
  return { index: shard, count };
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
   * when it is due at once (in a graph, the step `decide` would start next). Its StepStarted is still
   * durable before it runs, with one commit fewer. A caller running other steps of the same flow at
   * the same time passes false: a chained start is the one step it runs next.
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
  const finished: { -readonly [K in keyof StepFinished]: StepFinished[K] } = {
    type: 'StepFinished',
    stepIndex: index,
    stepId: slot.stepId,
    attempt: slot.attempts,
    outputs: [...outcome.outputs],
    fingerprint: fingerprintOf(flow, plan, index),
  };
  // Set, not spread into the literal: each step's event then has one shape, cheap to copy later.
  if (outcome.cachedFrom !== undefined) finished.cachedFrom = { ...outcome.cachedFrom };
  const events: FlowEventBody[] = [...signalEvents(slot, index, outcome.signals), finished];
  const after = lookAhead(flow, [finished]);
  if (after.cursor >= after.steps.length) return { events: [...events, completedEvent(after)], retry: null, starts: null };
  // A mapped step is not chained: its StepStarted counts its shards, known once its input is read.
  const next = options.chain ? chainedStart(after, plan, options.now) : null;
  if (next === null) return { events, retry: null, starts: null };
  return { events: [...events, startedEvent(after, next)], retry: null, starts: next };
}

/**
 * The one path of every failed attempt, thrown or lost. The StepFailed
 * (whose `step_execution_errors` row the store writes in its transaction) and, when the policy retries
 * this class and a retry is left, the automatic RetryScheduled.
 */
function failedAttempt(
  flow: FlowInstance,
  plan: FlowPlan,
  index: number,
  outcome: { error: ClassifiedError; signals: readonly Signal[] },
  { now, chain }: RecordOptions,
  shard?: number,
): Recorded {
  const slot = slotAt(flow, index);
  const step = stepAt(plan, index);
  // A shard's failure is the step's failure with the shard's own attempt and retry count.
  const position = shard === undefined ? undefined : shardPosition(slot, shard);
  const own = shard === undefined ? slot : (slot.shards?.[shard] ?? slot);
  // Whatever text the step threw, its StepFailed and error row must commit: never leave it Running.
  const error = storableFailure(outcome.error);
  const failed: StepFailed = {
    type: 'StepFailed',
    stepIndex: index,
    stepId: slot.stepId,
    attempt: own.attempts,
    errorClass: error.errorClass,
    error: { code: error.code, message: error.message },
    details: {
      ...error.details,
      stack_trace: error.stack ?? null,
      input_hash: hashCanonical([...inputHashesOf(flow, index)].sort()),
      params: step.params,
      ...(position === undefined ? {} : { shard: { ...position } }),
    },
    fingerprint: fingerprintOf(flow, plan, index),
    retryCount: own.retryCount,
    maxRetries: step.policy.maxRetries,
    ...(position === undefined ? {} : { shard: position }),
  };
  const signals = signalEvents(slot, index, outcome.signals).map((e) => (position === undefined ? e : { ...e, attempt: own.attempts, shard: position }));
  const events: FlowEventBody[] = [...signals, failed];
  const retry = automaticRetry(flow, step, failed, error, now, shard);
  if (retry?.outcome !== 'scheduled') return { events, retry, starts: null };
  events.push(retry.event);
  if (!chain || Date.parse(retry.event.notBefore) > now) return { events, retry, starts: null };
  const after = lookAhead(flow, [failed, retry.event]);
  if (shard !== undefined) return { events: [...events, shardStartedEvent(after, index, shard)], retry, starts: index };
  // A mapped step's start counts its shards; in a graph, the step `decide` would start next.
  if (step.map !== undefined) return { events, retry, starts: null };
  const next = isChain(flow.needs) ? index : chainedStart(after, plan, now);
  if (next === null) return { events, retry, starts: null };
  return { events: [...events, startedEvent(after, next)], retry, starts: next };
}

/**
 * Asks the step's policy whether this failure is retried by itself (the same gate as a manual retry).
 * Never in a flow that already failed for good (another step or shard failed with no retry left): the
 * attempts still in flight there only record their outcome, and an operator's `retry` reopens it.
 */
function automaticRetry(flow: FlowInstance, step: StepPlan, failed: StepFailed, error: ClassifiedError, now: number, shard?: number): RetryVerdict {
  if (flow.status === 'failed' || !retriesClass(step.policy, error.errorClass)) return null;
  const key = shard === undefined ? `${flow.id}/${step.id}` : `${flow.id}/${step.id}/${shard}`;
  const delayMs = error.retryAfterMs ?? step.policy.delayFor(failed.retryCount + 1, key);
  const decision = decideRetry(lookAhead(flow, [failed]), {
    stepId: step.id,
    maxRetries: step.policy.maxRetries,
    delayMs,
    reason: `automatic: ${error.errorClass} ${error.code}`,
    now,
    ...(shard === undefined ? {} : { shard }),
  });
  return decision.ok ? { outcome: 'scheduled', event: decision.event } : { outcome: 'rejected' };
}

/** A corrupt input is never handed to a step: its attempt fails, Permanent, since reading it again gives the same bytes. */
export function corruptInputFailure(error: ArtifactIntegrityError): ClassifiedError {
  return classifyError(
    new CorruptInputError(error.message, {
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

/** An input failed its hash check before the step was given it: found by the engine, so no stack. */
class CorruptInputError extends PermanentError {
  readonly recordedByEngine = true;
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
    ...(isChain(definition.graph.needs) ? {} : { needs: definition.graph.needs.map((list) => [...list]) }),
    ...(definition.onFailure === 'continue' ? { onFailure: 'continue' as const } : {}),
  };
}

/**
 * `events`, decided on `flow`, as they are appended, each step's outcome saying whether it leaves the
 * flow failed (`flowFailed`) when its last event alone would not say it, since the queue's status
 * follows the log without the definition: the StepFinished or StepSkipped after which the flow is
 * failed (the last step that could run ended while a step is Failed, in a flow whose `onFailure` is
 * `continue`; a branch in flight ended after a failure, in any other graph) is marked `true`, and in a
 * flow whose `onFailure` is `continue` a StepFailed after which a step still runs or may start is
 * marked `false` (the flow goes on). A shard's StepFinished is never marked: it does not change what
 * can run, and the queue keeps a failed flow failed after it.
 */
export function withFlowOutcomes(flow: FlowInstance, events: readonly FlowEventBody[]): FlowEventBody[] {
  return markedOutcomes(flow, events).events;
}

/**
 * `withFlowOutcomes`, and the state after each marked event (looked ahead once): with the `ts` the
 * events are stored with, those states are the ones the stored events replay to, so the appender need
 * not fold them in again.
 */
export function markedOutcomes(flow: FlowInstance, events: readonly FlowEventBody[], ts = ''): { events: FlowEventBody[]; states: FlowInstance[]; after: FlowInstance } {
  let state = flow;
  const states: FlowInstance[] = [];
  const marked = events.map((body) => {
    const unmarked = withoutMark(body);
    // The mark changes no state: the state after the unmarked event is the one after the marked one.
    const after = evolve(state, asStored(state, unmarked, ts));
    state = after;
    states.push(after);
    if (after.status === 'cancelled') return unmarked;
    if (unmarked.type === 'StepFailed' && after.status !== 'failed') return { ...unmarked, flowFailed: false };
    const ends = (unmarked.type === 'StepFinished' && unmarked.shard === undefined) || unmarked.type === 'StepSkipped';
    return ends && after.status === 'failed' ? { ...unmarked, flowFailed: true } : unmarked;
  });
  return { events: marked, states, after: state };
}

function withoutMark(body: FlowEventBody): FlowEventBody {
  if (!('flowFailed' in body)) return body;
  const { flowFailed: _mark, ...rest } = body;
  return rest;
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

/** The hashes a step's input has, from the log alone (the outputs of the steps it needs, in its needs' order): no artifact is read. */
export function inputHashesOf(flow: FlowInstance, index: number): readonly string[] {
  const needs = flow.needs[index] ?? [];
  return needs.length === 1 ? slotAt(flow, needs[0] as number).outputs : needs.flatMap((i) => slotAt(flow, i).outputs);
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
function asStored(flow: FlowInstance, body: FlowEventBody, ts = ''): FlowEvent {
  return Object.assign({}, body, { flowId: flow.id, version: flow.version + 1, seq: 0, ts, schemaVersion: 1 });
}

/** Throws `FlowNotRunnableError` for a flow that will never run again (completed, cancelled, failed). */
export function assertRunnable(flow: FlowInstance): void {
  if (isEnded(flow.status)) throw new FlowNotRunnableError(flow.id, flow.status, flow.status === 'failed' ? failedStep(flow)?.stepId : undefined);
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
