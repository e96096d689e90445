import { randomUUID } from 'node:crypto';
import type { Artifact } from '../core/artifact.js';
import { corruptInputFailure, decide, initializedEvent, recordAttempt, slotAt, type Decision, type RetryVerdict } from '../core/decide.js';
import type { FlowDefinition, FlowShape } from '../core/definition.js';
import { errorHistory } from '../core/error-history.js';
import { ArtifactIntegrityError, FlowNotFoundError, FlowNotRunnableError, RetryRejectedError } from '../core/errors.js';
import type { FlowEvent, RetryScheduled } from '../core/events.js';
import { ENGINE_VERSION } from '../core/fingerprint.js';
import { planFlow, type FlowPlan } from '../core/flow-plan.js';
import type { FlowInstance } from '../core/flow-state.js';
import { replay } from '../core/reducer.js';
import { decideRetry, manualRetryLimit } from '../core/retry-decision.js';
import { DEFAULT_RETRY_POLICY, RetryPolicy } from '../core/retry-policy.js';
import { resolveStepPolicies } from '../core/step-policy.js';
import type { ErrorStore, FlowStore } from '../stores/flow-store.js';
import { systemClock, type Clock } from './clock.js';
import type { FlowEngineOptions, NextResult, RetryOptions, RunOptions, StartOptions, StepOutcome } from './engine-options.js';
import { FlowSession, type FlowHandle, type SessionIo } from './flow-session.js';
import { LeaseKeeper, type FlowLease } from './lease-keeper.js';
import { RetryMetrics } from './retry-metrics.js';
import { runAttempt } from './step-runner.js';

export type { FlowEngineOptions, NextResult, RetryDecisionNote, RetryOptions, RunOptions, StartOptions, StepOutcome } from './engine-options.js';
export type { FlowHandle } from './flow-session.js';

/**
 * Drives flows one step at a time: load once, `decide` (pure, in core), run the step, commit. Every
 * state change is an event appended with optimistic concurrency, and the state is always the replay
 * of those events. A step's StepStarted is committed before its work begins, and its result (with the
 * next step's StepStarted, so a step costs one commit) before the next step runs.
 */
export class FlowEngine {
  private readonly store: FlowStore;
  private readonly policy: RetryPolicy;
  private readonly clock: Clock;
  private readonly baseDir: string;
  private readonly engineVersion: string;
  private readonly leases: LeaseKeeper;
  private readonly io: SessionIo;
  private readonly metrics = new RetryMetrics();
  private readonly plans = new WeakMap<FlowSession, FlowPlan>();
  /** The seeds' `error_store`: the store itself, which writes each error row in its StepFailed's transaction. */
  readonly errorStore: ErrorStore;

  constructor(private readonly options: FlowEngineOptions) {
    this.store = options.store;
    this.errorStore = options.store;
    this.policy = RetryPolicy.from(options.retryPolicy ?? DEFAULT_RETRY_POLICY);
    this.clock = options.clock ?? systemClock;
    this.baseDir = options.baseDir ?? process.cwd();
    this.engineVersion = options.engineVersion ?? ENGINE_VERSION;
    this.leases = options.leases ?? new LeaseKeeper({ store: options.store });
    const append = options.append ?? ((...args: Parameters<FlowStore['append']>) => this.store.append(...args));
    this.io = { store: this.store, append, clock: this.clock, onEvent: options.onEvent };
  }

  /** Who holds the leases of the flows this engine runs. */
  get leaseOwner(): string {
    return this.leases.owner;
  }

  /**
   * Creates a flow and returns its handle. `leased`: the caller runs it at once, so it is created
   * leased to this engine with its first step started in the same commit — run it with
   * `runToEnd(handle)` or `next(handle)`.
   */
  async start(definition: FlowDefinition, options: StartOptions = {}): Promise<FlowHandle> {
    const session = FlowSession.replayed(options.flowId ?? randomUUID(), definition, [], this.io);
    if (options.leased === true) await this.create(session, options);
    else await session.commit([initializedEvent(definition, options.metadata ?? {}, this.policiesOf(definition))]);
    return session;
  }

  /** Creates a flow (FlowInitialized) and returns its id; run it later by id (any engine or worker). */
  async startFlow(definition: FlowDefinition, options: StartOptions = {}): Promise<string> {
    const session = FlowSession.replayed(options.flowId ?? randomUUID(), definition, [], this.io);
    const lease = options.leased === true ? { owner: this.leases.owner, leaseMs: this.leases.leaseMs } : undefined;
    await session.commit([initializedEvent(definition, options.metadata ?? {}, this.policiesOf(definition))], lease ? { lease } : {});
    if (lease !== undefined) this.leases.adopt(session.flowId);
    return session.flowId;
  }

  /** Reads a flow's log once (or takes `events` the caller just read) and returns its handle. */
  async open<D extends FlowShape = FlowDefinition>(flowId: string, definition: D, options: { events?: readonly FlowEvent[] } = {}): Promise<FlowHandle<D>> {
    const events = options.events ?? (await this.store.list(flowId));
    if (events.length === 0) throw new FlowNotFoundError(flowId);
    return FlowSession.replayed(flowId, definition, events, this.io);
  }

  /** Rebuilds a flow's state from its events. */
  async load(flowId: string, definition: FlowShape): Promise<FlowInstance> {
    return replay(flowId, await this.store.list(flowId), definition);
  }

  eventsFor(flowId: string): Promise<FlowEvent[]> {
    return this.store.list(flowId);
  }

  /** Runs one step attempt (creating the flow if it has no events yet). */
  next(handle: FlowHandle, options?: RunOptions): Promise<NextResult>;
  next(flowId: string, definition: FlowDefinition, options?: RunOptions): Promise<NextResult>;
  async next(target: FlowHandle | string, second?: FlowDefinition | RunOptions, third?: RunOptions): Promise<NextResult> {
    const [session, options] = await this.sessionOf(target, second, third);
    const lease = await this.leaseFor(session, options);
    try {
      let decision = this.decide(session);
      if (decision.kind === 'wait') {
        await this.clock.sleep(decision.until - this.clock.now());
        decision = this.decide(session);
      }
      assertRunnable(session.flow);
      if (decision.kind === 'ended' || decision.kind === 'wait') throw new Error(`Flow ${session.flowId} has nothing to run now`);
      const outcome = await this.act(session, decision, () => false);
      return { flow: session.flow, outcome };
    } finally {
      if (options.lease === undefined) await this.giveBack(session, lease);
    }
  }

  /**
   * Runs until the flow completes or a step fails for good, waiting out retry backoffs (unless told
   * not to). Returns the final state; a flow that is already completed is returned as it is.
   */
  runToEnd(handle: FlowHandle, options?: RunOptions): Promise<FlowInstance>;
  runToEnd(flowId: string, definition: FlowDefinition, options?: RunOptions): Promise<FlowInstance>;
  async runToEnd(target: FlowHandle | string, second?: FlowDefinition | RunOptions, third?: RunOptions): Promise<FlowInstance> {
    const [session, options] = await this.sessionOf(target, second, third);
    if (session.flow.completed) return session.flow;
    assertRunnable(session.flow);
    const lease = await this.leaseFor(session, options);
    const chain = (): boolean => options.signal?.aborted !== true && !lease.signal.aborted;
    try {
      // A step whose StepStarted was committed (chained to the previous result) runs even when a stop
      // arrived during that commit: leaving it would make the next claimer record a false WORKER_LOST.
      while (session.startedHere !== null || chain()) {
        const decision = this.decide(session);
        if (decision.kind === 'ended') break;
        if (decision.kind === 'wait' && options.waitForRetries === false) break;
        if (decision.kind === 'wait') await this.clock.sleep(decision.until - this.clock.now());
        else await this.act(session, decision, chain);
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
  async giveBack(session: { flow: FlowInstance; lease?: FlowLease | undefined }, lease: FlowLease): Promise<void> {
    session.lease = undefined;
    if (session.flow.completed || (session.flow.failed && !session.flow.cancelled)) this.leases.forget(lease);
    else await this.leases.release(lease);
  }

  /**
   * Puts a Failed step back to Pending (RetryScheduled), due at once. Rejected with `RetryRejectedError`,
   * and nothing appended, unless the step is Failed and has retries left under `maxRetries` (default:
   * the step's recorded policy). Needs no step code: a handle opened with the recorded shape will do.
   */
  scheduleRetry(handle: FlowHandle<FlowShape>, stepId: string, options?: RetryOptions): Promise<RetryScheduled>;
  scheduleRetry(flowId: string, definition: FlowShape, stepId: string, reason?: string, maxRetries?: number): Promise<RetryScheduled>;
  async scheduleRetry(
    target: FlowHandle<FlowShape> | string,
    second: FlowShape | string,
    third?: string | RetryOptions,
    reason?: string,
    maxRetries?: number,
  ): Promise<RetryScheduled> {
    const [handle, stepId, options]: [FlowHandle<FlowShape>, string, RetryOptions] =
      typeof target === 'string'
        ? [await this.open(target, second as FlowShape), third as string, { ...(reason === undefined ? {} : { reason }), ...(maxRetries === undefined ? {} : { maxRetries }) }]
        : [target, second as string, (third as RetryOptions | undefined) ?? {}];
    const session = asSession(handle);
    const limit = options.maxRetries ?? manualRetryLimit(session.flow, stepId, this.policyOfStep(session.definition, stepId).maxRetries);
    const decision = decideRetry(session.flow, { stepId, maxRetries: limit, delayMs: 0, reason: options.reason ?? null, now: this.clock.now() });
    this.noteRetry(session.flowId, stepId, decision.ok ? { outcome: 'scheduled', event: decision.event } : { outcome: 'rejected' });
    if (!decision.ok) throw new RetryRejectedError(session.flowId, stepId, decision.reason, decision.detail);
    await session.commit([decision.event]);
    return decision.event;
  }

  /** The seeds' `FlowEngine::retry(step_id)`: the same gate and event as `scheduleRetry`. */
  retry(flowId: string, definition: FlowShape, stepId: string, reason?: string): Promise<RetryScheduled> {
    return this.scheduleRetry(flowId, definition, stepId, reason);
  }

  retriesScheduled(flowId?: string): number {
    return this.metrics.scheduled(flowId);
  }

  retriesRejected(flowId?: string): number {
    return this.metrics.rejected(flowId);
  }

  /** Carries out one decision: its commit, and for a step the attempt and the commit of its outcome. */
  private async act(session: FlowSession, decision: Exclude<Decision, { kind: 'wait' | 'ended' }>, chain: () => boolean): Promise<StepOutcome> {
    switch (decision.kind) {
      case 'complete':
        await session.commit(decision.events);
        return { kind: 'completed' };
      case 'recover': {
        const { stepId, attempts } = slotAt(session.flow, decision.index);
        await session.commit(decision.events);
        return { kind: 'recovered', stepId, attempt: attempts, retry: this.noteRetry(session.flowId, stepId, decision.retry) };
      }
      case 'start':
        await session.commit(decision.events);
        if (session.flow.cancelled) return { kind: 'cancelled' };
        return this.attempt(session, decision.index, chain);
      case 'run':
        return this.attempt(session, decision.index, chain);
    }
  }

  /** Runs the Running attempt of step `index` and commits its outcome (chaining what comes next). */
  private async attempt(session: FlowSession, index: number, chain: () => boolean): Promise<StepOutcome> {
    session.startedHere = null;
    const plan = this.planOf(session);
    const step = session.definition.steps[index];
    const slot = slotAt(session.flow, index);
    if (step === undefined) throw new RangeError(`Flow ${session.flowId} has no step at index ${index}`);
    const input = await this.inputFor(session, index).catch((error: unknown) => {
      if (error instanceof ArtifactIntegrityError) return corruptInputFailure(error);
      throw error;
    });
    const result = Array.isArray(input)
      ? await runAttempt(
          step,
          { input, attempt: slot.attempts, flowId: session.flowId, stepId: step.id, baseDir: this.baseDir, errorHistory: errorHistory(session.flow) },
          { stop: session.stop, timeoutMs: plan.steps[index]?.timeoutMs ?? null },
        )
      : { ok: false as const, error: input, signals: [] };
    const outputs = result.ok ? result.outputs : [];
    const outcome = result.ok ? { ok: true as const, outputs: outputs.map((a) => a.hash), signals: result.signals } : result;
    // A corrupt input fails for good whatever comes next: never chain a restart onto it.
    const recorded = recordAttempt(session.flow, plan, index, outcome, { now: this.clock.now(), chain: Array.isArray(input) && chain() });
    for (const artifact of outputs) session.artifacts.set(artifact.hash, artifact);
    await session.commit(recorded.events, outputs.length > 0 ? { artifacts: outputs } : {});
    if (recorded.starts !== null && !session.flow.cancelled) session.startedHere = recorded.starts;
    const retry = this.noteRetry(session.flowId, step.id, recorded.retry);
    if (result.ok) return { kind: 'finished', stepId: step.id, attempt: slot.attempts };
    return { kind: 'failed', stepId: step.id, attempt: slot.attempts, errorClass: result.error.errorClass, retry };
  }

  private decide(session: FlowSession): Decision {
    return decide(session.flow, this.planOf(session), { now: this.clock.now(), startedHere: session.startedHere });
  }

  private planOf(session: FlowSession): FlowPlan {
    let plan = this.plans.get(session);
    if (plan === undefined) this.plans.set(session, (plan = planFlow(session.definition, session.flow, this.policy, this.engineVersion)));
    return plan;
  }

  private policiesOf(definition: FlowDefinition): ReturnType<typeof resolveStepPolicies> {
    return resolveStepPolicies(definition, this.policy);
  }

  private policyOfStep(definition: FlowShape, stepId: string): RetryPolicy {
    const step = (definition as Partial<FlowDefinition>).steps?.find((s) => s.id === stepId);
    return step?.retry === undefined ? this.policy : RetryPolicy.from(step.retry);
  }

  /** Counts a retry decision (the F7 counters) and tells the listener; returns the retry scheduled, if any. */
  private noteRetry(flowId: string, stepId: string, verdict: RetryVerdict): RetryScheduled | null {
    if (verdict === null) return null;
    this.metrics.record(flowId, verdict.outcome);
    this.options.onRetryDecision?.({ flowId, stepId, outcome: verdict.outcome });
    return verdict.outcome === 'scheduled' ? verdict.event : null;
  }

  private async sessionOf(
    target: FlowHandle | string,
    second: FlowDefinition | RunOptions | undefined,
    third: RunOptions | undefined,
  ): Promise<[FlowSession, RunOptions]> {
    if (typeof target !== 'string') return [asSession(target), (second as RunOptions | undefined) ?? {}];
    if (second === undefined || !('steps' in second)) throw new TypeError(`A definition is needed to run flow ${target}`);
    const events = await this.store.list(target);
    return [FlowSession.replayed(target, second, events, this.io), third ?? {}];
  }

  /** Creates the session's flow leased to this engine, with its first step started in the same commit. */
  private async create(session: FlowSession, options: StartOptions): Promise<FlowLease> {
    const init = initializedEvent(session.definition, options.metadata ?? {}, this.policiesOf(session.definition));
    const lease = { owner: this.leases.owner, leaseMs: this.leases.leaseMs };
    await session.commit([init, { type: 'StepStarted', stepIndex: 0, stepId: slotAt(session.flow, 0).stepId, attempt: 1 }], { lease });
    session.startedHere = 0;
    return (session.lease = this.leases.adopt(session.flowId));
  }

  /**
   * The lease the session runs under: the caller's, the session's own, or acquired here (a flow this
   * call creates is created leased). While it is held no other process runs the flow, so a Running
   * attempt found now was left by a process whose lease expired: `decide` recovers it.
   */
  private async leaseFor(session: FlowSession, options: RunOptions): Promise<FlowLease> {
    const lease = options.lease ?? session.lease ?? (session.version === 0 ? await this.create(session, {}) : await this.leases.acquire(session.flowId));
    session.lease = lease;
    return lease;
  }

  private async inputFor(session: FlowSession, index: number): Promise<Artifact[]> {
    if (index === 0) return [];
    const hashes = slotAt(session.flow, index - 1).outputs;
    const missing = hashes.filter((h) => !session.artifacts.has(h));
    if (missing.length > 0) for (const a of await this.store.getArtifacts(missing)) session.artifacts.set(a.hash, a);
    // Only the latest step's outputs are needed again: keep memory flat on long flows.
    const input = hashes.flatMap((h) => session.artifacts.get(h) ?? []);
    session.artifacts = new Map(input.map((a) => [a.hash, a]));
    return input;
  }
}

function asSession<D extends FlowShape>(handle: FlowHandle<D>): FlowSession<D> {
  if (!(handle instanceof FlowSession)) throw new TypeError('This flow handle was not opened by a FlowEngine (use engine.open or engine.start)');
  return handle as FlowSession<D>;
}

function assertRunnable(flow: FlowInstance): void {
  if (flow.completed) throw new FlowNotRunnableError(flow.id, 'completed');
  if (flow.cancelled) throw new FlowNotRunnableError(flow.id, 'cancelled');
  if (flow.failed) throw new FlowNotRunnableError(flow.id, 'failed', flow.steps.find((s) => s.status === 'Failed')?.stepId);
}
