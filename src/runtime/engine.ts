import { randomUUID } from 'node:crypto';
import type { Artifact } from '../core/artifact.js';
import type { JsonObject } from '../core/canonical-json.js';
import type { ErrorHistoryEntry, FlowDefinition, StepDefinition } from '../core/definition.js';
import { PermanentError, WorkerLostError, classifyError, type ClassifiedError } from '../core/error-class.js';
import { ArtifactIntegrityError, FlowNotFoundError, FlowNotRunnableError, RetryRejectedError, StepInProgressError } from '../core/errors.js';
import type { FlowEvent, NewFlowEvent, RetryScheduled, FlowEventBody } from '../core/events.js';
import { flowFingerprint, stepFingerprint, ENGINE_VERSION } from '../core/fingerprint.js';
import type { FlowInstance, StepSlot } from '../core/flow-state.js';
import { hashCanonical } from '../core/hash.js';
import { storableFailure } from '../core/storable-failure.js';
import { evolve, replay } from '../core/reducer.js';
import { decideRetry } from '../core/retry-decision.js';
import { DEFAULT_RETRY_POLICY, retriesClass, RetryPolicy, type RetryPolicyOptions } from '../core/retry-policy.js';
import type { ErrorStore, FlowStore } from '../stores/flow-store.js';
import { systemClock, type Clock } from './clock.js';
import { RetryMetrics } from './retry-metrics.js';
import { runAttempt } from './step-runner.js';

export interface FlowEngineOptions {
  store: FlowStore;
  /** Default policy of every step without its own; see docs/retry.md. */
  retryPolicy?: RetryPolicyOptions;
  clock?: Clock;
  /** Directory that relative paths in step params refer to; default the process's cwd. */
  baseDir?: string;
  engineVersion?: string;
  /**
   * How long an attempt started by another process may go without a result before it is presumed lost
   * (its worker died). Default 15 minutes; a step with `timeoutMs` is presumed lost after that timeout
   * plus 30 s, since a live worker would have recorded the timeout itself.
   */
  staleAttemptMs?: number;
  /** Called with every committed event and the flow state after it (progress displays, logs). */
  onEvent?: (event: FlowEvent, flow: FlowInstance) => void;
}

export interface RunOptions {
  /**
   * Recover a Running attempt at once, however recent: the caller knows its process is gone (e.g. the
   * operator's `chemflow resume` after a crash). Without it, a recent attempt started elsewhere makes
   * the call fail with `StepInProgressError` so no attempt ever runs twice at the same time.
   */
  takeOver?: boolean;
  /**
   * Stops `runToEnd` between steps once aborted (a worker shutting down): the attempt in flight records
   * its result, the next step is not started, and the flow is returned as it is — neither completed nor
   * failed — for any engine to continue later.
   */
  signal?: AbortSignal;
}

export interface StartOptions {
  flowId?: string;
  /** Facts about the run's origin (e.g. the flow file); stored in FlowInitialized, never hashed. */
  metadata?: JsonObject;
}

/** What one call to `next` did. */
export type StepOutcome =
  | { kind: 'finished'; stepId: string; attempt: number }
  | { kind: 'failed'; stepId: string; attempt: number; errorClass: ClassifiedError['errorClass']; retry: RetryScheduled | null }
  | { kind: 'recovered'; stepId: string; attempt: number; retry: RetryScheduled | null }
  | { kind: 'completed' };

export interface NextResult {
  flow: FlowInstance;
  outcome: StepOutcome;
}

/** What is known of a failed attempt when its `StepFailed` is written. */
interface FailedAttempt {
  fingerprint: string;
  inputHashes: readonly string[];
  error: ClassifiedError;
  /** Signals the attempt emitted before failing; committed with its StepFailed. */
  signals: readonly FlowEventBody[];
}

/** A flow being driven by this engine: its state plus what only this process knows. */
interface Session {
  definition: FlowDefinition;
  flow: FlowInstance;
  /** Index of a step whose StepStarted this process committed and has not yet run. */
  startedHere: number | null;
  /** The caller vouches that a Running attempt found on opening has no live worker. */
  takeOver: boolean;
  /** Outputs of finished steps already in memory, by hash: saves a read per step. */
  artifacts: Map<string, Artifact>;
}

/**
 * Drives flows one step at a time. It decides, the store stores: every state change is an event
 * appended with optimistic concurrency, and the state is always the replay of those events.
 *
 * Durability: a step's StepStarted is committed before its work begins, and its result (with the next
 * step's StepStarted, so a step costs one commit) before the next step runs.
 */
export class FlowEngine {
  private readonly store: FlowStore;
  private readonly policy: RetryPolicy;
  private readonly clock: Clock;
  private readonly baseDir: string;
  private readonly engineVersion: string;
  private readonly onEvent: FlowEngineOptions['onEvent'];
  private readonly staleAttemptMs: number;
  private readonly metrics = new RetryMetrics();
  /**
   * The seeds' `error_store`: the `step_execution_errors` queries of the injected store. It is not a
   * separate injection on purpose: the store writes each row in the transaction of its `StepFailed`,
   * which a second, independent store could not.
   */
  readonly errorStore: ErrorStore;

  constructor(options: FlowEngineOptions) {
    this.store = options.store;
    this.errorStore = options.store;
    this.policy = RetryPolicy.from(options.retryPolicy ?? DEFAULT_RETRY_POLICY);
    this.clock = options.clock ?? systemClock;
    this.baseDir = options.baseDir ?? process.cwd();
    this.engineVersion = options.engineVersion ?? ENGINE_VERSION;
    this.onEvent = options.onEvent;
    this.staleAttemptMs = options.staleAttemptMs ?? 15 * 60_000;
  }

  /** Creates a flow (FlowInitialized) and returns its id. */
  async startFlow(definition: FlowDefinition, options: StartOptions = {}): Promise<string> {
    const flowId = options.flowId ?? randomUUID();
    const session = this.newSession(flowId, definition, []);
    await this.commit(session, [this.initialized(definition, options.metadata ?? {})]);
    return flowId;
  }

  /** Rebuilds a flow's state from its events. */
  async load(flowId: string, definition: FlowDefinition): Promise<FlowInstance> {
    return replay(flowId, await this.store.list(flowId), definition);
  }

  eventsFor(flowId: string): Promise<FlowEvent[]> {
    return this.store.list(flowId);
  }

  /** Runs one step attempt (initialising the flow if it has no events yet). */
  async next(flowId: string, definition: FlowDefinition, options: RunOptions = {}): Promise<NextResult> {
    const session = await this.open(flowId, definition, true, options);
    const outcome = await this.advance(session, () => false);
    return { flow: session.flow, outcome };
  }

  /**
   * Runs until the flow completes or a step fails for good, waiting out retry backoffs. Returns the
   * final state; a flow that is already completed is returned as it is.
   */
  async runToEnd(flowId: string, definition: FlowDefinition, options: RunOptions = {}): Promise<FlowInstance> {
    const session = await this.open(flowId, definition, true, options);
    if (session.flow.completed) return session.flow;
    assertRunnable(session.flow);
    const stopped = (): boolean => options.signal?.aborted === true;
    while (!session.flow.completed && !session.flow.failed && !stopped()) await this.advance(session, () => !stopped());
    return session.flow;
  }

  /**
   * Puts a Failed step back to Pending (RetryScheduled). Rejected with `RetryRejectedError`, and nothing
   * appended, unless the step is Failed and has retries left under `maxRetries` (default: the step's
   * policy). A manual retry is due at once.
   */
  async scheduleRetry(
    flowId: string,
    definition: FlowDefinition,
    stepId: string,
    reason?: string,
    maxRetries?: number,
  ): Promise<RetryScheduled> {
    const session = await this.open(flowId, definition, false, {});
    const step = definition.steps.find((s) => s.id === stepId);
    const limit = maxRetries ?? this.policyFor(step).maxRetries;
    const retry = this.gateRetry(session.flow, stepId, limit, 0, reason ?? null);
    await this.commit(session, [retry]);
    return retry;
  }

  /** The seeds' `FlowEngine::retry(step_id)`: the same gate and event as `scheduleRetry`. */
  retry(flowId: string, definition: FlowDefinition, stepId: string, reason?: string): Promise<RetryScheduled> {
    return this.scheduleRetry(flowId, definition, stepId, reason);
  }

  retriesScheduled(flowId?: string): number {
    return this.metrics.scheduled(flowId);
  }

  retriesRejected(flowId?: string): number {
    return this.metrics.rejected(flowId);
  }

  /** The one gate of every retry, manual or automatic: counts the decision, throws on rejection. */
  private gateRetry(
    flow: FlowInstance,
    stepId: string,
    maxRetries: number,
    delayMs: number,
    reason: string | null,
  ): RetryScheduled {
    const decision = decideRetry(flow, { stepId, maxRetries, delayMs, reason, now: this.clock.now() });
    if (!decision.ok) {
      this.metrics.record(flow.id, 'rejected');
      throw new RetryRejectedError(flow.id, stepId, decision.reason, decision.detail);
    }
    this.metrics.record(flow.id, 'scheduled');
    return decision.event;
  }

  private policyFor(step: StepDefinition | undefined): RetryPolicy {
    return step?.retry === undefined ? this.policy : RetryPolicy.from(step.retry);
  }

  private async open(
    flowId: string,
    definition: FlowDefinition,
    createIfMissing: boolean,
    options: RunOptions,
  ): Promise<Session> {
    const events = await this.store.list(flowId);
    if (events.length === 0 && !createIfMissing) throw new FlowNotFoundError(flowId);
    const session = this.newSession(flowId, definition, events);
    session.takeOver = options.takeOver === true;
    if (events.length === 0) await this.commit(session, [this.initialized(definition, {})]);
    return session;
  }

  private newSession(flowId: string, definition: FlowDefinition, events: readonly FlowEvent[]): Session {
    return { definition, flow: replay(flowId, events, definition), startedHere: null, takeOver: false, artifacts: new Map() };
  }

  private initialized(definition: FlowDefinition, metadata: JsonObject): FlowEventBody {
    return {
      type: 'FlowInitialized',
      definitionHash: definition.definitionHash,
      stepCount: definition.steps.length,
      flowName: definition.name,
      stepIds: definition.steps.map((s) => s.id),
      metadata,
    };
  }

  /** One decision and its commit. `chain()`: start the next step in the same commit as a success. */
  private async advance(session: Session, chain: () => boolean): Promise<StepOutcome> {
    const { flow } = session;
    assertRunnable(flow);
    const runningIndex = flow.steps.findIndex((s) => s.status === 'Running');
    if (runningIndex !== -1 && runningIndex !== session.startedHere) return this.recoverLostAttempt(session, runningIndex);
    if (flow.cursor >= flow.steps.length) {
      await this.commit(session, [this.completed(flow)]);
      return { kind: 'completed' };
    }
    const index = flow.cursor;
    const step = session.definition.steps[index] as StepDefinition;
    if (session.startedHere !== index) {
      await this.waitUntilDue(flow.steps[index] as StepSlot);
      await this.commit(session, [startEvent(session.flow, index)]);
    }
    session.startedHere = null;
    const slot = session.flow.steps[index] as StepSlot;
    const inputHashes = inputHashesOf(session.flow, index);
    const fingerprint = stepFingerprint({
      engineVersion: this.engineVersion,
      stepId: step.id,
      inputHashes,
      params: step.baseParams,
      definitionHash: session.definition.definitionHash,
    });
    let input: Artifact[];
    try {
      input = await this.inputFor(session, index);
    } catch (error) {
      if (!(error instanceof ArtifactIntegrityError)) throw error;
      // A corrupt input is never handed to the step; the attempt fails for good and the audit row says why.
      const failure = corruptInputFailure(error);
      const retry = await this.emitStepFailed(session, index, { fingerprint, inputHashes, error: failure, signals: [] });
      return { kind: 'failed', stepId: step.id, attempt: slot.attempts, errorClass: failure.errorClass, retry };
    }
    const result = await runAttempt(step, {
      input,
      attempt: slot.attempts,
      flowId: flow.id,
      stepId: step.id,
      baseDir: this.baseDir,
      errorHistory: errorHistory(session.flow),
    });
    const signals: FlowEventBody[] = result.signals.map((s) => ({
      type: 'StepSignal',
      stepIndex: index,
      stepId: step.id,
      attempt: slot.attempts,
      name: s.name,
      data: s.data,
    }));

    if (result.ok) {
      const finished: FlowEventBody = {
        type: 'StepFinished',
        stepIndex: index,
        stepId: step.id,
        attempt: slot.attempts,
        outputs: result.outputs.map((a) => a.hash),
        fingerprint,
      };
      for (const artifact of result.outputs) session.artifacts.set(artifact.hash, artifact);
      const isLast = index === flow.steps.length - 1;
      const after = lookAhead(session.flow, [finished]);
      const chained = !isLast && chain();
      const tail = isLast ? [this.completed(after)] : chained ? [startEvent(after, index + 1)] : [];
      await this.commit(session, [...signals, finished, ...tail], result.outputs);
      if (chained) session.startedHere = index + 1;
      return { kind: 'finished', stepId: step.id, attempt: slot.attempts };
    }

    const retry = await this.emitStepFailed(session, index, { fingerprint, inputHashes, error: result.error, signals }, chain);
    return { kind: 'failed', stepId: step.id, attempt: slot.attempts, errorClass: result.error.errorClass, retry };
  }

  /** A Running step this process did not start: if its worker is gone, record the attempt as Transient. */
  private async recoverLostAttempt(session: Session, index: number): Promise<StepOutcome> {
    const step = session.definition.steps[index] as StepDefinition;
    const slot = session.flow.steps[index] as StepSlot;
    const staleAfter = step.timeoutMs === undefined ? this.staleAttemptMs : step.timeoutMs + 30_000;
    const age = this.clock.now() - Date.parse(slot.startedAt ?? '');
    if (!session.takeOver && !(age >= staleAfter))
      throw new StepInProgressError(session.flow.id, session.flow.version, step.id, slot.attempts, slot.startedAt ?? '?');
    const inputHashes = inputHashesOf(session.flow, index);
    const fingerprint = stepFingerprint({
      engineVersion: this.engineVersion,
      stepId: step.id,
      inputHashes,
      params: step.baseParams,
      definitionHash: session.definition.definitionHash,
    });
    const error = classifyError(new WorkerLostError(slot.attempts));
    const retry = await this.emitStepFailed(session, index, { fingerprint, inputHashes, error, signals: [] });
    return { kind: 'recovered', stepId: step.id, attempt: slot.attempts, retry };
  }

  /**
   * The seeds' `emit_step_failed`: the one path of every failed attempt, thrown or lost. Commits the
   * `StepFailed` (whose `step_execution_errors` row the store writes in the same transaction) and, when
   * the policy retries this class, the automatic `RetryScheduled` with it. Returns that retry, if any.
   * `chain()`: a retry that is due at once also starts its attempt in the same commit (the next
   * attempt's StepStarted is still committed before it runs, with one commit fewer per failure).
   */
  private async emitStepFailed(
    session: Session,
    index: number,
    attempt: FailedAttempt,
    chain: () => boolean = () => false,
  ): Promise<RetryScheduled | null> {
    const step = session.definition.steps[index] as StepDefinition;
    const slot = session.flow.steps[index] as StepSlot;
    // Whatever text the step threw, its StepFailed and error row must commit: never leave it Running.
    const error = storableFailure(attempt.error);
    const failed = this.failedEvent(step, index, slot, { ...attempt, error });
    const retry = this.automaticRetry(session, failed, step, error);
    const restart = retry !== null && Date.parse(retry.notBefore) <= this.clock.now() && chain();
    const start = restart ? [startEvent(lookAhead(session.flow, [failed, retry]), index)] : [];
    await this.commit(session, [...attempt.signals, failed, ...(retry ? [retry] : []), ...start]);
    if (restart) session.startedHere = index;
    return retry;
  }

  private failedEvent(
    step: StepDefinition,
    index: number,
    slot: StepSlot,
    { fingerprint, inputHashes, error }: FailedAttempt,
  ): FlowEventBody & { type: 'StepFailed' } {
    return {
      type: 'StepFailed',
      stepIndex: index,
      stepId: step.id,
      attempt: slot.attempts,
      errorClass: error.errorClass,
      error: { code: error.code, message: error.message },
      details: {
        ...error.details,
        stack_trace: error.stack ?? null,
        input_hash: hashCanonical([...inputHashes].sort()),
        params: step.baseParams,
      },
      fingerprint,
      retryCount: slot.retryCount,
      maxRetries: this.policyFor(step).maxRetries,
    };
  }

  /** Asks the policy whether this failure is retried by itself; if so, the RetryScheduled to commit with it. */
  private automaticRetry(
    session: Session,
    failed: FlowEventBody & { type: 'StepFailed' },
    step: StepDefinition,
    error: ClassifiedError,
  ): RetryScheduled | null {
    const policy = this.policyFor(step);
    if (!retriesClass(policy, error.errorClass)) return null;
    const afterFailure = lookAhead(session.flow, [failed]);
    const retryIndex = failed.retryCount + 1;
    const delayMs = error.retryAfterMs ?? policy.delayFor(retryIndex, `${session.flow.id}/${step.id}`);
    const reason = `automatic: ${error.errorClass} ${error.code}`;
    try {
      return this.gateRetry(afterFailure, step.id, policy.maxRetries, delayMs, reason);
    } catch (rejection) {
      if (rejection instanceof RetryRejectedError) return null;
      throw rejection;
    }
  }

  private completed(flow: FlowInstance): FlowEventBody {
    return { type: 'FlowCompleted', flowFingerprint: flowFingerprint(flow.steps.map((s) => s.fingerprint ?? '')) };
  }

  private async waitUntilDue(slot: StepSlot): Promise<void> {
    if (slot.notBefore === null) return;
    const wait = Date.parse(slot.notBefore) - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait);
  }

  private async inputFor(session: Session, index: number): Promise<Artifact[]> {
    if (index === 0) return [];
    const hashes = (session.flow.steps[index - 1] as StepSlot).outputs;
    const missing = hashes.filter((h) => !session.artifacts.has(h));
    if (missing.length > 0) for (const a of await this.store.getArtifacts(missing)) session.artifacts.set(a.hash, a);
    // Only the latest step's outputs are needed again: keep memory flat on long flows.
    const input = hashes.map((h) => session.artifacts.get(h) as Artifact);
    session.artifacts = new Map(input.map((a) => [a.hash, a]));
    return input;
  }

  private async commit(session: Session, bodies: readonly FlowEventBody[], artifacts?: readonly Artifact[]): Promise<void> {
    const ts = new Date(this.clock.now()).toISOString();
    const events: NewFlowEvent[] = bodies.map((body) => ({ ...body, ts }));
    const result = await this.store.append(session.flow.id, session.flow.version, events, artifacts ? { artifacts } : {});
    for (const event of result.events) {
      session.flow = evolve(session.flow, event);
      this.onEvent?.(event, session.flow);
    }
  }
}

/** The hashes a step's input has, from the log alone (the previous step's outputs): no artifact is read. */
function inputHashesOf(flow: FlowInstance, index: number): readonly string[] {
  return index === 0 ? [] : (flow.steps[index - 1] as StepSlot).outputs;
}

/** A corrupt input artifact as the failure it causes: Permanent, since reading it again gives the same bytes. */
function corruptInputFailure(error: ArtifactIntegrityError): ClassifiedError {
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

function assertRunnable(flow: FlowInstance): void {
  if (flow.completed) throw new FlowNotRunnableError(flow.id, 'completed');
  if (flow.failed) throw new FlowNotRunnableError(flow.id, 'failed', flow.steps.find((s) => s.status === 'Failed')?.stepId);
}

function startEvent(flow: FlowInstance, index: number): FlowEventBody {
  const slot = flow.steps[index] as StepSlot;
  return { type: 'StepStarted', stepIndex: index, stepId: slot.stepId, attempt: slot.attempts + 1 };
}

/** An event as the reducer will see it once stored, to look one event ahead before committing. */
function stored(flow: FlowInstance, body: FlowEventBody): FlowEvent {
  return { ...body, flowId: flow.id, version: flow.version + 1, seq: 0, ts: '', schemaVersion: 1 };
}

/** The state after `bodies`, looked ahead before they are committed. */
function lookAhead(flow: FlowInstance, bodies: readonly FlowEventBody[]): FlowInstance {
  return bodies.reduce((state, body) => evolve(state, stored(state, body)), flow);
}

function errorHistory(flow: FlowInstance): ErrorHistoryEntry[] {
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
