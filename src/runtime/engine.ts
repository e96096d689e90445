import { randomUUID } from 'node:crypto';
import type { Artifact } from '../core/artifact.js';
import type { JsonObject } from '../core/canonical-json.js';
import type { ErrorHistoryEntry, FlowDefinition, StepDefinition } from '../core/definition.js';
import { PermanentError, WorkerLostError, classifyError, type ClassifiedError } from '../core/error-class.js';
import {
  ArtifactIntegrityError,
  ConcurrencyError,
  FlowLeasedError,
  FlowNotFoundError,
  FlowNotRunnableError,
  RetryRejectedError,
} from '../core/errors.js';
import type { FlowEvent, NewFlowEvent, RetryScheduled, FlowEventBody } from '../core/events.js';
import { flowFingerprint, stepFingerprint, ENGINE_VERSION } from '../core/fingerprint.js';
import type { FlowInstance, StepSlot } from '../core/flow-state.js';
import { hashCanonical } from '../core/hash.js';
import { storableFailure } from '../core/storable-failure.js';
import { evolve, replay } from '../core/reducer.js';
import { decideRetry } from '../core/retry-decision.js';
import { DEFAULT_RETRY_POLICY, retriesClass, RetryPolicy, type RetryPolicyOptions } from '../core/retry-policy.js';
import type { AppendOptions, ErrorStore, FlowStore } from '../stores/flow-store.js';
import { systemClock, type Clock } from './clock.js';
import { LeaseKeeper, type FlowLease } from './lease-keeper.js';
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
   * The leases this engine runs flows under (one per flow, renewed by a heartbeat; see
   * docs/architecture.md). Default: a keeper of its own with a 30 s lease and a 10 s heartbeat. A
   * worker passes its keeper so that one heartbeat renews every flow it runs.
   */
  leases?: LeaseKeeper;
  /**
   * @deprecated Ignored since the flow queue: an attempt is presumed lost when its process's lease
   * expired (seconds), not after a fixed age. Kept so that existing callers still compile.
   */
  staleAttemptMs?: number;
  /** Called with every committed event and the flow state after it (progress displays, logs). */
  onEvent?: (event: FlowEvent, flow: FlowInstance) => void;
  /**
   * Called with every retry decision, manual or automatic, as it is counted by `retriesScheduled` and
   * `retriesRejected` (e.g. for a worker's metrics, which outlive the engine of each visit).
   */
  onRetryDecision?: (decision: RetryDecisionNote) => void;
}

/** One retry decision of the engine's gate: a `RetryScheduled` decided, or a retry refused. */
export interface RetryDecisionNote {
  flowId: string;
  stepId: string;
  outcome: 'scheduled' | 'rejected';
}

export interface RunOptions {
  /**
   * @deprecated Ignored: a flow is run under its lease, and a Running attempt found once the lease is
   * held belongs to a process whose lease expired, so it is recovered at once.
   */
  takeOver?: boolean;
  /** The flow's lease, when the caller already holds it (a worker's claim); else the engine acquires it. */
  lease?: FlowLease;
  /**
   * Whether `runToEnd` waits out a retry's backoff (default true). A worker passes false: the flow goes
   * back to the queue until it is due, and the worker moves on.
   */
  waitForRetries?: boolean;
  /** The flow's log as the caller just read it (a worker resolving the flow): saves reading it again. */
  events?: readonly FlowEvent[];
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
  /**
   * Create the flow already leased to this engine, for a caller that runs it at once (`chemflow run`):
   * no worker can claim it in between. Without it the flow waits in the queue for any worker.
   */
  leased?: boolean;
}

/** What one call to `next` did. */
export type StepOutcome =
  | { kind: 'finished'; stepId: string; attempt: number }
  | { kind: 'failed'; stepId: string; attempt: number; errorClass: ClassifiedError['errorClass']; retry: RetryScheduled | null }
  | { kind: 'recovered'; stepId: string; attempt: number; retry: RetryScheduled | null }
  | { kind: 'completed' }
  /** The flow was cancelled meanwhile: nothing was started (an attempt in flight recorded its outcome). */
  | { kind: 'cancelled' };

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
  /** Aborted when the flow's lease is lost or the flow is cancelled: start nothing more, stop the attempt. */
  stop: AbortSignal | undefined;
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
  private readonly onRetryDecision: FlowEngineOptions['onRetryDecision'];
  private readonly leases: LeaseKeeper;
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
    this.onRetryDecision = options.onRetryDecision;
    this.leases = options.leases ?? new LeaseKeeper({ store: options.store });
  }

  /** Who holds the leases of the flows this engine runs. */
  get leaseOwner(): string {
    return this.leases.owner;
  }

  /** Creates a flow (FlowInitialized) and returns its id. */
  async startFlow(definition: FlowDefinition, options: StartOptions = {}): Promise<string> {
    const flowId = options.flowId ?? randomUUID();
    const session = this.newSession(flowId, definition, []);
    const lease = options.leased === true ? { owner: this.leases.owner, leaseMs: this.leases.leaseMs } : undefined;
    await this.commit(session, [this.initialized(definition, options.metadata ?? {})], undefined, lease);
    if (lease !== undefined) this.leases.adopt(flowId);
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
    const session = await this.open(flowId, definition, true, options.events);
    const lease = await this.leaseFor(session, options);
    try {
      const outcome = await this.advance(session, () => false);
      return { flow: session.flow, outcome };
    } finally {
      if (options.lease === undefined) await this.giveBack(session, lease);
    }
  }

  /**
   * Runs until the flow completes or a step fails for good, waiting out retry backoffs. Returns the
   * final state; a flow that is already completed is returned as it is.
   */
  async runToEnd(flowId: string, definition: FlowDefinition, options: RunOptions = {}): Promise<FlowInstance> {
    const session = await this.open(flowId, definition, true, options.events);
    if (session.flow.completed) return session.flow;
    assertRunnable(session.flow);
    const lease = await this.leaseFor(session, options);
    const stopped = (): boolean => options.signal?.aborted === true || lease.signal.aborted;
    const waits = options.waitForRetries !== false;
    try {
      // A step whose StepStarted was committed (chained to the previous result) runs even when a stop
      // arrived during that commit: leaving it would make the next claimer record a false WORKER_LOST.
      while (!session.flow.completed && !session.flow.failed && !session.flow.cancelled && (session.startedHere !== null || !stopped())) {
        if (!waits && session.startedHere === null && dueAt(session.flow) > this.clock.now()) break;
        await this.advance(session, () => !stopped());
      }
      return session.flow;
    } finally {
      if (options.lease === undefined) await this.giveBack(session, lease);
    }
  }

  /**
   * Hands the flow back after this engine ran it. An ended flow's lease was cleared by the append that
   * ended it (no round trip); an open one is released for anyone to claim when due.
   */
  async giveBack(session: { flow: FlowInstance }, lease: FlowLease): Promise<void> {
    if (session.flow.completed || (session.flow.failed && !session.flow.cancelled)) this.leases.forget(lease);
    else await this.leases.release(lease);
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
    const session = await this.open(flowId, definition, false);
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
    const outcome = decision.ok ? 'scheduled' : 'rejected';
    this.metrics.record(flow.id, outcome);
    this.onRetryDecision?.({ flowId: flow.id, stepId, outcome });
    if (!decision.ok) throw new RetryRejectedError(flow.id, stepId, decision.reason, decision.detail);
    return decision.event;
  }

  private policyFor(step: StepDefinition | undefined): RetryPolicy {
    return step?.retry === undefined ? this.policy : RetryPolicy.from(step.retry);
  }

  private async open(
    flowId: string,
    definition: FlowDefinition,
    createIfMissing: boolean,
    known?: readonly FlowEvent[],
  ): Promise<Session> {
    const events = known ?? (await this.store.list(flowId));
    if (events.length === 0 && !createIfMissing) throw new FlowNotFoundError(flowId);
    return this.newSession(flowId, definition, events);
  }

  /**
   * The lease the session runs under: the caller's, or acquired here (a flow this call creates is
   * created leased). While it is held no other process runs the flow, so a Running attempt found now
   * was left by a process whose lease expired: `advance` recovers it at once.
   */
  private async leaseFor(session: Session, options: RunOptions): Promise<FlowLease> {
    let lease = options.lease;
    if (lease === undefined && session.flow.version === 0) {
      const leaseOption = { owner: this.leases.owner, leaseMs: this.leases.leaseMs };
      await this.commit(session, [this.initialized(session.definition, {})], undefined, leaseOption);
      lease = this.leases.adopt(session.flow.id);
    }
    lease ??= await this.leases.acquire(session.flow.id);
    session.stop = lease.signal;
    return lease;
  }

  private newSession(flowId: string, definition: FlowDefinition, events: readonly FlowEvent[]): Session {
    return { definition, flow: replay(flowId, events, definition), startedHere: null, stop: undefined, artifacts: new Map() };
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
      if (session.flow.cancelled) return { kind: 'cancelled' };
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
    }, session.stop);
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
      if (chained && !session.flow.cancelled) session.startedHere = index + 1;
      return { kind: 'finished', stepId: step.id, attempt: slot.attempts };
    }

    const retry = await this.emitStepFailed(session, index, { fingerprint, inputHashes, error: result.error, signals }, chain);
    return { kind: 'failed', stepId: step.id, attempt: slot.attempts, errorClass: result.error.errorClass, retry };
  }

  /**
   * A Running step this process did not start, found while holding the flow's lease: the process that
   * started it lost its lease (it died or was cut off), so the attempt is recorded as Transient.
   */
  private async recoverLostAttempt(session: Session, index: number): Promise<StepOutcome> {
    const step = session.definition.steps[index] as StepDefinition;
    const slot = session.flow.steps[index] as StepSlot;
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
    if (restart && !session.flow.cancelled) session.startedHere = index;
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

  /**
   * Appends `bodies` at the session's version. If the log moved on because the flow was cancelled
   * meanwhile, only the outcome of the attempt in flight (its signals, StepFinished or StepFailed) is
   * recorded after the FlowCancelled and nothing is started; any other conflict is the caller's.
   */
  private async commit(
    session: Session,
    bodies: readonly FlowEventBody[],
    artifacts?: readonly Artifact[],
    lease?: AppendOptions['lease'],
  ): Promise<void> {
    try {
      await this.append(session, bodies, { ...(artifacts ? { artifacts } : {}), ...(lease ? { lease } : {}) });
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || error instanceof FlowLeasedError) throw error;
      const current = replay(session.flow.id, await this.store.list(session.flow.id), session.definition);
      if (!current.cancelled) throw error;
      session.flow = current;
      session.startedHere = null;
      const outcome = bodies.filter((b) => b.type === 'StepSignal' || b.type === 'StepFinished' || b.type === 'StepFailed');
      const attempt = outcome[0];
      const inFlight = attempt === undefined ? undefined : current.steps[attempt.stepIndex];
      if (attempt !== undefined && inFlight?.status === 'Running' && inFlight.attempts === attempt.attempt)
        await this.append(session, outcome, artifacts ? { artifacts } : {});
    }
  }

  private async append(session: Session, bodies: readonly FlowEventBody[], options: AppendOptions): Promise<void> {
    const ts = new Date(this.clock.now()).toISOString();
    const events: NewFlowEvent[] = bodies.map((body) => ({ ...body, ts }));
    const result = await this.store.append(session.flow.id, session.flow.version, events, options);
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
  if (flow.cancelled) throw new FlowNotRunnableError(flow.id, 'cancelled');
  if (flow.failed) throw new FlowNotRunnableError(flow.id, 'failed', flow.steps.find((s) => s.status === 'Failed')?.stepId);
}

/** When the flow's next attempt may start (epoch ms; 0 when nothing holds it back). */
function dueAt(flow: FlowInstance): number {
  const slot = flow.steps[flow.cursor];
  return slot?.status === 'Pending' && slot.notBefore !== null ? Date.parse(slot.notBefore) : 0;
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
