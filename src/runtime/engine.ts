import { availableParallelism } from 'node:os';
import { assertRunnable, decide, hasRunningAttempt, recordAttempt, skippedEvent, slotAt, startedEvent, type Decision } from '../core/decide.js';
import { classifyError } from '../core/error-class.js';
import { checkCondition } from './condition-check.js';
import { isChain } from '../core/step-graph.js';
import type { FlowDefinition, FlowShape } from '../core/definition.js';
import { FlowLeasedError, RetryRejectedError } from '../core/errors.js';
import type { FlowEvent, FlowEventBody, RetryScheduled } from '../core/events.js';
import { ENGINE_VERSION } from '../core/fingerprint.js';
import { planFlow, type FlowPlan } from '../core/flow-plan.js';
import { isEnded, type FlowInstance } from '../core/flow-state.js';
import { decideStepRetries, manualRetryLimit } from '../core/retry-decision.js';
import { DEFAULT_RETRY_POLICY, RetryPolicy } from '../core/retry-policy.js';
import type { AppendOptions, ErrorStore, FlowStore } from '../stores/flow-store.js';
import { systemClock, type Clock } from './clock.js';
import type { FlowEngineOptions, NextResult, OpenOptions, RetryOptions, RunOptions, StartOptions, StepOutcome } from './engine-options.js';
import type { AppendFn, FlowSession, FlowHandle, FlowSetup } from './flow-session.js';
import { asSession, FlowSessions } from './flow-sessions.js';
import { recordLostOfCancelled } from './cancelled-attempts.js';
import { GroupCommitter } from './group-commit.js';
import { LeaseKeeper, type FlowLease, type WorkItemLease } from './lease-keeper.js';
import { RetryMetrics } from './retry-metrics.js';
import { refusedOutputsFailure } from './refused-outputs.js';
import { runStepAttempt } from './step-attempt.js';
import { runShard, type ShardRunEnd } from './shard-attempt.js';
import { runBranch, type BranchRunEnd, type BranchWork } from './branch-attempt.js';
import { isBranchItem } from '../core/decide-branch.js';
import { runShardedStep, shardWorkOf, splitStep, type ShardedStepIo } from './sharded-step.js';
import type { ShardInputCache } from './shard-input-cache.js';
import type { StepThreads } from './step-threads.js';
import type { ChunkLimits } from '../core/chunk.js';
import type { ResourcePool } from './resource-pool.js';

export type { FlowEngineOptions, NextResult, OpenOptions, RetryDecisionNote, RetryOptions, RunOptions, StartOptions, StepOutcome } from './engine-options.js';
export type { FlowHandle } from './flow-session.js';

/**
 * Drives flows one step at a time: load once, `decide` (pure, in core), run the step, commit. Every
 * state change is an event appended with optimistic concurrency, and the state is always the replay
 * of those events. A step's StepStarted is committed before its work begins, and its result (with the
 * next step's StepStarted, so a step costs one commit) before the next step runs.
 */
/**
 * Whether a run goes on after the step at hand (`goOn`: no stop was asked for, the lease is held) and
 * whether that step's outcome may start the next step in the same commit (`chain`).
 */
interface Pace {
  goOn: () => boolean;
  chain: () => boolean;
}

export class FlowEngine {
  private readonly store: FlowStore;
  private readonly policy: RetryPolicy;
  private readonly clock: Clock;
  private readonly baseDir: string;
  private readonly engineVersion: string;
  private readonly leases: LeaseKeeper;
  private readonly sessions: FlowSessions;
  private readonly metrics: RetryMetrics;
  private readonly concurrency: number;
  private readonly shardPollMs: number;
  private readonly shareBranches: boolean;
  /** Coordinators (of graphs and of mapped steps) waiting for the items others run: woken early by `nudge`. */
  private readonly nudges = new Set<() => void>();
  private readonly threads: StepThreads | undefined;
  private readonly chunkLimits: ChunkLimits | undefined;
  private readonly resources: ResourcePool | undefined;
  private readonly workRoot: string | undefined;
  /** Where error rows are read: the store itself, which writes each error row in its StepFailed's transaction. */
  readonly errorStore: ErrorStore;

  constructor(options: FlowEngineOptions) {
    this.store = options.store;
    this.errorStore = options.store;
    this.metrics = new RetryMetrics(options.onRetryDecision);
    this.policy = RetryPolicy.from(options.retryPolicy ?? DEFAULT_RETRY_POLICY);
    this.clock = options.clock ?? systemClock;
    this.baseDir = options.baseDir ?? process.cwd();
    this.engineVersion = options.engineVersion ?? ENGINE_VERSION;
    this.leases = options.leases ?? new LeaseKeeper({ store: options.store, clock: this.clock });
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? availableParallelism()));
    this.shardPollMs = Math.max(1, options.shardPollMs ?? 500);
    this.shareBranches = options.shareBranches === true;
    this.threads = options.threads;
    this.chunkLimits = options.chunkLimits;
    this.resources = options.resources;
    this.workRoot = options.workRoot;
    // Flows this engine drives at the same time share commits (a lone flow's append goes at once),
    // through the caller's committer (a worker's) or one of this engine's own.
    const append = options.append ?? committerAppend(new GroupCommitter(this.store));
    this.sessions = new FlowSessions({ store: this.store, append, clock: this.clock, onEvent: options.onEvent }, this.leases, this.policy);
  }

  /** Who holds the leases of the flows this engine runs. */
  get leaseOwner(): string {
    return this.leases.owner;
  }

  /** Creates a flow and returns its handle; `leased`: created leased with its first step started, to run at once. */
  start(definition: FlowDefinition, options: StartOptions = {}): Promise<FlowHandle> {
    return this.sessions.start(definition, options);
  }

  /** Creates a flow (FlowInitialized) and returns its id, for any engine or worker to run by id later. */
  async startFlow(definition: FlowDefinition, options: Omit<StartOptions, 'leased'> = {}): Promise<string> {
    return (await this.sessions.start(definition, { ...options, leased: false })).flowId;
  }

  /**
   * Reads a flow's log once (or takes `events` the caller just read) and returns its handle. `setup`
   * gives this flow a default retry policy and a base directory other than the engine's own (a worker
   * running flows of several flow files with one engine).
   */
  async open<D extends FlowShape = FlowDefinition>(flowId: string, definition: D, options: OpenOptions = {}): Promise<FlowHandle<D>> {
    const session = await this.sessions.open(flowId, definition, options.events);
    session.setup = setupOf(options);
    return session;
  }

  /** Runs one step attempt (creating the flow if it has no events yet). */
  next(handle: FlowHandle, options?: RunOptions): Promise<NextResult>;
  next(flowId: string, definition: FlowDefinition, options?: RunOptions): Promise<NextResult>;
  async next(target: FlowHandle | string, second?: FlowDefinition | RunOptions, third?: RunOptions): Promise<NextResult> {
    const [session, options] = await this.sessions.of(target, second, third);
    return this.underLease(session, options, async () => {
      const first = this.decide(session);
      if (first.kind === 'wait') await this.clock.sleep(first.until - this.clock.now());
      const decision = first.kind === 'wait' ? this.decide(session) : first;
      assertRunnable(session.flow);
      if (decision.kind === 'ended' || decision.kind === 'wait' || decision.kind === 'busy') throw new Error(`Flow ${session.flowId} has nothing to run now`);
      const outcome = await this.act(session, decision, { goOn: () => false, chain: () => false });
      return { flow: session.flow, outcome };
    });
  }

  /**
   * Runs until the flow completes or a step fails for good, waiting out retry backoffs (unless told
   * not to). Returns the final state; a flow that is already completed is returned as it is. With a
   * resource pool, it also stops before a step whose `resources` exceed the pool (`unfitStep` names it):
   * the flow is left as it is for a process that has enough.
   */
  runToEnd(handle: FlowHandle, options?: RunOptions): Promise<FlowInstance>;
  runToEnd(flowId: string, definition: FlowDefinition, options?: RunOptions): Promise<FlowInstance>;
  async runToEnd(target: FlowHandle | string, second?: FlowDefinition | RunOptions, third?: RunOptions): Promise<FlowInstance> {
    const [session, options] = await this.sessions.of(target, second, third);
    if (session.flow.status === 'completed') return session.flow;
    assertRunnable(session.flow);
    return this.underLease(session, options, async (lease) => {
      const chain = (): boolean => options.signal?.aborted !== true && !lease.signal.aborted;
      if (!isChain(session.flow.needs)) return (await this.sharesBranches(session)) ? this.coordinateBranches(session, options, chain) : this.runBranches(session, options, chain);
      // A step whose StepStarted was committed (chained to the previous result) runs even when a stop
      // arrived during that commit: leaving it would make the next claimer record a false WORKER_LOST.
      while (session.startedHere !== null || chain()) {
        const decision = this.decide(session);
        // `busy` needs steps in flight, which a list never has here: nothing left to do.
        if (decision.kind === 'ended' || decision.kind === 'busy' || (decision.kind === 'wait' && options.waitForRetries === false)) break;
        if ((decision.kind === 'start' || decision.kind === 'split' || decision.kind === 'shards' || decision.kind === 'evaluate') && !this.fitsStep(session, decision.index)) break;
        if (decision.kind === 'wait') await this.clock.sleep(decision.until - this.clock.now());
        else await this.act(session, decision, { goOn: chain, chain });
      }
      return session.flow;
    });
  }

  /**
   * Puts a Failed step back to Pending (RetryScheduled), due at once. Rejected with `RetryRejectedError`,
   * and nothing appended, unless the step is Failed and has retries left under `maxRetries` (default:
   * the step's recorded policy, see `manualRetryLimit`). Needs no step code: by id, the flow is read
   * once with the shape its log recorded.
   */
  async scheduleRetry(flow: FlowHandle<FlowShape> | string, stepId: string, options: RetryOptions = {}): Promise<RetryScheduled> {
    const session = typeof flow === 'string' ? await this.sessions.openStored(flow) : asSession(flow);
    let events: RetryScheduled[];
    try {
      // Decided on the log as it stands when written: a retry racing a cancel is refused, not lost.
      events = await session.update((current) => {
        const limit = options.maxRetries ?? manualRetryLimit(current, stepId, this.policy.maxRetries);
        // A step failed because shards failed is retried shard by shard: only those run again.
        const decision = decideStepRetries(current, { stepId, maxRetries: limit, delayMs: 0, reason: options.reason ?? null, now: this.clock.now() });
        if (!decision.ok) throw new RetryRejectedError(session.flowId, stepId, decision.reason, decision.detail);
        return { events: decision.events, result: decision.events };
      });
    } catch (error) {
      if (error instanceof RetryRejectedError) this.metrics.note(session.flowId, stepId, { outcome: 'rejected' });
      throw error;
    }
    for (const event of events) this.metrics.note(session.flowId, stepId, { outcome: 'scheduled', event });
    return events[0] as RetryScheduled;
  }

  /**
   * For a cancelled flow whose worker died mid-attempt: records those attempts as lost (`WORKER_LOST`)
   * under the flow's lease, and ends a mapped step that no shard runs any more (`recordLostOfCancelled`).
   * Nothing when a live process holds the flow's lease (it settles the flow itself) or when nothing
   * was running. Returns the events appended.
   */
  async recordLostAttempts(handle: FlowHandle): Promise<FlowEventBody[]> {
    const session = asSession(handle);
    if (session.flow.status !== 'cancelled' || !hasRunningAttempt(session.flow)) return [];
    let lease: FlowLease;
    try {
      lease = await this.sessions.lease(session, {});
    } catch (error) {
      if (error instanceof FlowLeasedError) return [];
      throw error;
    }
    try {
      // Decided again under the lease, on the log as it stands (shard holders append meanwhile).
      return await recordLostOfCancelled(session, this.planOf(session), this.store, this.clock);
    } finally {
      await this.sessions.giveBack(session, lease);
    }
  }

  retriesScheduled(flowId?: string): number {
    return this.metrics.scheduled(flowId);
  }

  retriesRejected(flowId?: string): number {
    return this.metrics.rejected(flowId);
  }

  /**
   * `runToEnd` of a graph: every step whose needs are done starts at once, up to `concurrency` steps
   * in flight, each committing its own start and outcome; a step that was alone in flight chains the
   * next step's start to its outcome, as a list does. When a step fails for good, or a stop comes,
   * nothing new starts; the steps in flight finish and record their outcome first.
   */
  private async runBranches(session: FlowSession, options: RunOptions, chain: () => boolean): Promise<FlowInstance> {
    const inFlight = new Map<number, Promise<void>>();
    let thrown: { error: unknown } | undefined;
    const settle = async (): Promise<void> => {
      await Promise.race(inFlight.values());
    };
    for (;;) {
      if (thrown !== undefined) break;
      const decision = decide(session.flow, this.planOf(session), { now: this.clock.now(), startedHere: session.startedHere, inFlight: new Set(inFlight.keys()) });
      if (decision.kind === 'ended') break;
      if (decision.kind === 'busy' || (decision.kind === 'wait' && options.waitForRetries === false)) {
        if (inFlight.size === 0) break;
        await settle();
        continue;
      }
      if (decision.kind === 'wait') {
        await Promise.race([...inFlight.values(), this.clock.sleep(decision.until - this.clock.now())]);
        continue;
      }
      if (decision.kind === 'complete' || decision.kind === 'skip' || decision.kind === 'recover') {
        await this.act(session, decision, { goOn: chain, chain });
        continue;
      }
      const full = inFlight.size >= this.concurrency;
      // A step whose StepStarted was chained to the last outcome runs even when a stop came meanwhile.
      if (decision.kind !== 'run' && (!chain() || full || !this.fitsStep(session, decision.index))) {
        if (inFlight.size === 0) break;
        await settle();
        continue;
      }
      const index = decision.index;
      // A step's outcome starts the next one in the same commit only while it is the one step in flight:
      // then the loop waits for it, and runs the chained step (`run`) as soon as it returns.
      const alone = (): boolean => chain() && inFlight.size === 1 && inFlight.has(index);
      const work = this.act(session, decision, { goOn: chain, chain: alone }).then(
        () => undefined,
        (error: unknown) => void (thrown ??= { error }),
      );
      inFlight.set(index, work.finally(() => inFlight.delete(index)));
    }
    await Promise.all(inFlight.values());
    if (thrown !== undefined) throw thrown.error;
    return session.flow;
  }

  /**
   * Tells the coordinators of this engine that a work item may have been given back (a NOTIFY of the
   * queue, from any process): each reads its flow's log now instead of at its next poll.
   */
  nudge(): void {
    for (const wake of [...this.nudges]) wake();
  }

  private async sleepUnlessNudged(ms: number): Promise<void> {
    const stop = new AbortController();
    const wake = (): void => stop.abort();
    this.nudges.add(wake);
    try {
      await this.clock.sleep(ms, stop.signal).catch(() => undefined);
    } finally {
      this.nudges.delete(wake);
    }
  }

  /**
   * `runToEnd` of a graph by a worker: the flow's coordinator publishes each runnable plain step as a
   * work item (`openSteps`), runs those it claims itself within `concurrency` and leaves the others to
   * whichever worker claims them; it reads the log while they run, and goes on with what only it does:
   * conditions, mapped steps, skips, recoveries of steps no item holds, completion. A step whose item is
   * open is never recovered here, even Running: its item's lease says whether its holder lives, and the
   * claimer of an expired item records the lost attempt (`decideBranch`). A coordinator that takes over
   * from a dead one learns which steps are items from the queue's rows.
   */
  private async coordinateBranches(session: FlowSession, options: RunOptions, chain: () => boolean): Promise<FlowInstance> {
    const plan = this.planOf(session);
    const items = new Set((await this.store.listShards(session.flowId)).filter((r) => r.kind === 'step' && r.open).map((r) => r.stepIndex));
    const local = new Map<string, Promise<void>>();
    let thrown: { error: unknown } | undefined;
    const track = (key: string, work: Promise<unknown>): void => {
      const done = work.then(
        () => undefined,
        (error: unknown) => void (thrown ??= { error }),
      );
      local.set(key, done.finally(() => local.delete(key)));
    };
    const inFlight = (): Set<number> => {
      // An item stays the item queue's until its step finished, was skipped or failed with no retry.
      for (const index of items) if (!['Running', 'Pending'].includes(slotAt(session.flow, index).status)) items.delete(index);
      return new Set([...items, ...[...local.keys()].filter((k) => k.startsWith('step:')).map((k) => Number(k.slice(5)))]);
    };
    for (;;) {
      if (thrown !== undefined) break;
      const decision = decide(session.flow, plan, { now: this.clock.now(), startedHere: session.startedHere, inFlight: inFlight() });
      if (decision.kind === 'ended') break;
      if (decision.kind === 'start' && isBranchItem(plan, decision.index) && chain()) {
        // Every plain step free to start now is published in one statement.
        const publish = [decision.index];
        for (;;) {
          const more = decide(session.flow, plan, { now: this.clock.now(), startedHere: null, inFlight: new Set([...inFlight(), ...publish]) });
          if (more.kind !== 'start' || !isBranchItem(plan, more.index)) break;
          publish.push(more.index);
        }
        await this.store.openSteps(session.flowId, publish.map((index) => ({ index, due: 'now' as const })));
        for (const index of publish) items.add(index);
        continue;
      }
      if (decision.kind === 'recover' && isBranchItem(plan, decision.index) && !items.has(decision.index)) {
        // A plain step Running with no item this coordinator knows of may have one that a coordinator
        // which took over meanwhile opened (this one was held up past its lease): that item's lease, not
        // this coordinator, says whether its holder lives.
        const open = (await this.store.listShards(session.flowId)).filter((r) => r.kind === 'step' && r.open).map((r) => r.stepIndex);
        if (open.includes(decision.index)) {
          for (const index of open) items.add(index);
          continue;
        }
      }
      // The coordinator chains nothing: the next start is a decision (an item for a plain step).
      const pace = { goOn: chain, chain: () => false };
      if (decision.kind === 'complete' || decision.kind === 'skip' || decision.kind === 'recover') {
        await this.act(session, decision, pace);
        continue;
      }
      const free = this.concurrency - [...local.keys()].length;
      if (decision.kind !== 'busy' && decision.kind !== 'wait' && decision.kind !== 'start' && free > 0 && chain() && this.fitsStep(session, decision.index)) {
        // What only the coordinator does (a condition, a split, a sharded step's shards) runs here.
        track(`step:${decision.index}`, this.act(session, decision, pace));
        continue;
      }
      // The items of this flow: claimed into this process's free slots, run with this session.
      const claimed = free > 0 && chain() && items.size > 0 ? await this.leases.claimItems(free, { flowId: session.flowId, kind: 'step' }) : [];
      for (const lease of claimed) track(`item:${lease.stepIndex}`, runBranch(this.branchWork(session, lease.stepIndex), lease));
      if (claimed.length > 0) continue;
      const othersRun = [...items].some((index) => slotAt(session.flow, index).status === 'Running' || (slotAt(session.flow, index).notBefore ?? '') <= new Date(this.clock.now()).toISOString());
      if (local.size === 0 && (!chain() || !othersRun)) {
        if (decision.kind !== 'wait' || options.waitForRetries === false || !chain()) break;
        await this.clock.sleep(Math.min(this.shardPollMs, decision.until - this.clock.now()));
        await session.refresh();
        continue;
      }
      // Others run the rest: look at the log again when a worker gives an item back (`nudge`), when a
      // step of this process ends, or after `shardPollMs` at the latest.
      const before = local.size;
      await Promise.race([...local.values(), this.sleepUnlessNudged(this.shardPollMs)]);
      if (local.size === before) await session.refresh();
    }
    await Promise.all(local.values());
    if (thrown !== undefined) throw thrown.error;
    return session.flow;
  }

  /**
   * Whether this graph flow's branches go through the work-item queue: always for a worker's engine;
   * for another (`chemflow resume` of a flow a worker coordinated) when a step Running elsewhere has an
   * open item, so that a live holder's branch is never recorded lost. Only then is the queue read.
   */
  private async sharesBranches(session: FlowSession): Promise<boolean> {
    if (this.shareBranches) return true;
    const foreign = session.flow.steps.some((s, i) => s.status === 'Running' && s.shards === null && i !== session.startedHere);
    if (!foreign) return false;
    return (await this.store.listShards(session.flowId)).some((r) => r.kind === 'step' && r.open);
  }

  /** What this process needs to run graph step `index` of a session as a claimed work item. */
  private branchWork(session: FlowSession, index: number): BranchWork {
    const { stepId } = slotAt(session.flow, index);
    return {
      session,
      plan: this.planOf(session),
      index,
      clock: this.clock,
      leases: this.leases,
      io: { store: this.store, baseDir: session.setup.baseDir ?? this.baseDir, threads: this.threads, chunkLimits: this.chunkLimits, resources: this.resources, workRoot: this.workRoot },
      onRetry: (verdict) => this.metrics.note(session.flowId, stepId, verdict),
    };
  }

  /**
   * Runs one graph step a worker claimed as a work item, of a flow another process (or this one)
   * coordinates, from the flow's log the caller just read; the item is given back (or let expire) when
   * it returns.
   */
  async runBranch(lease: WorkItemLease, definition: FlowDefinition, events: readonly FlowEvent[], options: Pick<OpenOptions, 'retryPolicy' | 'baseDir'> = {}): Promise<BranchRunEnd> {
    const session = await this.sessions.open(lease.flowId, definition, events);
    session.setup = setupOf(options);
    return runBranch(this.branchWork(session, lease.stepIndex), lease);
  }

  /** Carries out one decision: its commit, and for a step the attempt and the commit of its outcome. */
  private async act(session: FlowSession, decision: Exclude<Decision, { kind: 'wait' | 'ended' | 'busy' }>, pace: Pace): Promise<StepOutcome> {
    switch (decision.kind) {
      case 'complete':
        await session.commit(decision.events);
        return { kind: 'completed' };
      case 'recover': {
        const { stepId, attempts } = slotAt(session.flow, decision.index);
        await session.commit(decision.events);
        return { kind: 'recovered', stepId, attempt: attempts, retry: this.metrics.note(session.flowId, stepId, decision.retry) };
      }
      case 'start':
        await session.commit(decision.events);
        if (session.flow.status === 'cancelled') return { kind: 'cancelled' };
        return this.attempt(session, decision.index, pace);
      case 'run':
        return this.attempt(session, decision.index, pace);
      case 'split':
        return this.split(session, decision.index, pace);
      case 'skip':
        await session.commit(decision.events);
        return { kind: 'skipped', stepId: slotAt(session.flow, decision.index).stepId };
      case 'evaluate':
        return this.evaluate(session, decision.index, pace);
      case 'shards':
        return this.sharded(session, decision.index, pace);
    }
  }

  /**
   * Runs one shard that a worker claimed, of a sharded step another process coordinates, from the
   * flow's log the caller just read; the lease is given back (or let expire) when it returns.
   */
  async runShard(
    lease: WorkItemLease,
    definition: FlowDefinition,
    events: readonly FlowEvent[],
    options: { inputs?: ShardInputCache } & Pick<OpenOptions, 'retryPolicy' | 'baseDir'> = {},
  ): Promise<ShardRunEnd> {
    const session = await this.sessions.open(lease.flowId, definition, events);
    session.setup = setupOf(options);
    const work = shardWorkOf(session, this.planOf(session), lease.stepIndex, this.shardIo(session, lease.stepIndex));
    const cached = options.inputs?.get(work, lease);
    return runShard(cached === undefined ? work : { ...work, input: cached }, lease);
  }

  /**
   * The step of this flow that this engine's resource pool could never run and that is next to run,
   * if any: what `runToEnd` stopped before. Undefined without a pool.
   */
  unfitStep(handle: FlowHandle): { stepId: string; index: number } | undefined {
    const session = asSession(handle);
    const index = session.flow.cursor;
    const step = session.definition.steps[index];
    if (step === undefined || isEnded(session.flow.status)) return undefined;
    return this.fitsStep(session, index) ? undefined : { stepId: step.id, index };
  }

  /** Whether this engine may start step `index`: always without a pool, else if its needs fit the pool. */
  private fitsStep(session: FlowSession, index: number): boolean {
    return this.resources === undefined || this.resources.fits(session.definition.steps[index]?.resources);
  }

  /**
   * `chain`, and the step a chained commit may start fits here: a step no attempt of this process could
   * run is never started by it. In a list that is the step after `index`; in a graph any step may come
   * next, so a graph chains only when every step fits.
   */
  private chainTo(session: FlowSession, index: number, chain: () => boolean): () => boolean {
    const steps = session.definition.steps;
    if (!isChain(session.flow.needs)) return () => chain() && steps.every((_, i) => this.fitsStep(session, i));
    return () => chain() && (index + 1 >= steps.length || this.fitsStep(session, index + 1));
  }

  /** Starts the mapped step `index` sharded (or whole, when its input does not split) and runs it. */
  private async split(session: FlowSession, index: number, pace: Pace): Promise<StepOutcome> {
    if (!(await splitStep(session, this.planOf(session), index, this.shardIo(session, index)))) return this.attempt(session, index, pace);
    if (session.flow.status === 'cancelled') return { kind: 'cancelled' };
    return this.sharded(session, index, pace);
  }

  /**
   * Step `index` has a condition: skipped when it is false, run when it holds. When the output it
   * names is not there, the step's attempt fails (Validation), with its error row, like any attempt.
   */
  private async evaluate(session: FlowSession, index: number, pace: Pace): Promise<StepOutcome> {
    const plan = this.planOf(session);
    const check = await checkCondition(session, index, this.store);
    const { stepId } = slotAt(session.flow, index);
    if (check.ok && !check.holds) {
      await session.commit([skippedEvent(session.flow, plan, index, 'condition')]);
      return { kind: 'skipped', stepId };
    }
    if (check.ok && plan.steps[index]?.map !== undefined) return this.split(session, index, pace);
    await session.commit([startedEvent(session.flow, index)]);
    if (session.flow.status === 'cancelled') return { kind: 'cancelled' };
    if (check.ok) return this.attempt(session, index, pace);
    const attempt = slotAt(session.flow, index).attempts;
    const recorded = recordAttempt(session.flow, plan, index, { ok: false, error: classifyError(check.error), signals: [] }, { now: this.clock.now(), chain: false });
    await session.commit(recorded.events);
    return { kind: 'failed', stepId, attempt, errorClass: 'Validation', retry: this.metrics.note(session.flowId, stepId, recorded.retry) };
  }

  /** Coordinates the Running sharded step `index` to its end (or until stopped). */
  private async sharded(session: FlowSession, index: number, pace: Pace): Promise<StepOutcome> {
    const { stepId, attempts: attempt } = slotAt(session.flow, index);
    const end = await runShardedStep(session, this.planOf(session), index, this.shardIo(session, index), {
      stop: session.stop,
      chain: pace.goOn,
      chainNext: this.chainTo(session, index, pace.chain),
    });
    if (end.kind === 'finished') return { kind: 'finished', stepId, attempt };
    if (session.flow.status === 'cancelled') return { kind: 'cancelled' };
    if (end.kind === 'stopped') return { kind: 'stopped', stepId };
    const failure = end.outcome !== null && !end.outcome.ok ? end.outcome.error : null;
    const errorClass = failure?.errorClass ?? slotAt(session.flow, index).errors.at(-1)?.errorClass ?? 'Runtime';
    return { kind: 'failed', stepId, attempt, errorClass, retry: null };
  }

  private shardIo(session: FlowSession, index: number): ShardedStepIo {
    const { stepId } = slotAt(session.flow, index);
    return {
      store: this.store,
      clock: this.clock,
      baseDir: session.setup.baseDir ?? this.baseDir,
      leases: this.leases,
      concurrency: this.concurrency,
      pollMs: this.shardPollMs,
      wait: (ms) => this.sleepUnlessNudged(ms),
      onRetry: (verdict) => this.metrics.note(session.flowId, stepId, verdict),
      threads: this.threads,
      chunkLimits: this.chunkLimits,
      resources: this.resources,
      workRoot: this.workRoot,
    };
  }

  /** Runs the Running attempt of step `index` and commits its outcome (chaining what comes next). */
  private async attempt(session: FlowSession, index: number, pace: Pace): Promise<StepOutcome> {
    session.beginAttempt();
    const plan = this.planOf(session);
    const { stepId, attempts: attempt } = slotAt(session.flow, index);
    const io = { store: this.store, baseDir: session.setup.baseDir ?? this.baseDir, threads: this.threads, chunkLimits: this.chunkLimits, resources: this.resources, workRoot: this.workRoot };
    const run = await runStepAttempt(session, plan, index, io);
    const chain = this.chainTo(session, index, pace.chain);
    let outcome = run.outcome;
    let recorded = recordAttempt(session.flow, plan, index, outcome, { now: this.clock.now(), chain: !run.corruptInput && chain() });
    try {
      const stored: Pick<AppendOptions, 'artifacts' | 'cacheEntry'> = {};
      if (run.outputs.length > 0) stored.artifacts = run.outputs;
      if (run.cacheEntry !== undefined) stored.cacheEntry = run.cacheEntry;
      await session.commit(recorded.events, stored);
    } catch (error) {
      // Outputs the database refuses for their size or content fail the attempt; anything else is the caller's.
      const refused = run.outputs.length > 0 ? refusedOutputsFailure(error) : undefined;
      if (refused === undefined) throw error;
      outcome = { ok: false, error: refused, signals: outcome.signals };
      recorded = recordAttempt(session.flow, plan, index, outcome, { now: this.clock.now(), chain: chain() });
      await session.commit(recorded.events);
    }
    const retry = this.metrics.note(session.flowId, stepId, recorded.retry);
    if (outcome.ok) return { kind: 'finished', stepId, attempt };
    return { kind: 'failed', stepId, attempt, errorClass: outcome.error.errorClass, retry };
  }

  private decide(session: FlowSession): Decision {
    return decide(session.flow, this.planOf(session), { now: this.clock.now(), startedHere: session.startedHere });
  }

  private planOf(session: FlowSession): FlowPlan {
    return (session.plan ??= planFlow(session.definition, session.flow, session.setup.policy ?? this.policy, this.engineVersion));
  }

  /** Runs `work` under the session's lease, and gives the lease back after unless it was the caller's. */
  private async underLease<T>(session: FlowSession, options: RunOptions, work: (lease: FlowLease) => Promise<T>): Promise<T> {
    const lease = await this.sessions.lease(session, options);
    try {
      return await work(lease);
    } finally {
      if (options.lease === undefined) await this.sessions.giveBack(session, lease);
    }
  }
}

/** The flow's own settings among `open`'s options, the retry policy compiled (once, when it is one already). */
function setupOf(options: Pick<OpenOptions, 'retryPolicy' | 'baseDir'>): FlowSetup {
  return {
    ...(options.retryPolicy === undefined ? {} : { policy: RetryPolicy.from(options.retryPolicy) }),
    ...(options.baseDir === undefined ? {} : { baseDir: options.baseDir }),
  };
}

function committerAppend(committer: GroupCommitter): AppendFn {
  return (...args) => committer.append(...args);
}
