import type { FlowDefinition } from '../core/definition.js';
import { CorruptEventError, FlowLeasedError, isConcurrencyError, isStoreOutage, StoreError } from '../core/errors.js';
import type { EventOf, FlowEvent } from '../core/events.js';
import { isEnded, needsDone, type FlowInstance } from '../core/flow-state.js';
import { RetryPolicy, type RetryPolicyOptions } from '../core/retry-policy.js';
import type { FlowStore } from '../stores/flow-store.js';
import { systemClock, type Clock } from './clock.js';
import { FlowEngine, type FlowEngineOptions, type FlowHandle } from './engine.js';
import { GroupCommitter } from './group-commit.js';
import { LeaseKeeper, type ClaimedWorkLeases, type FlowLease, type WorkItemLease } from './lease-keeper.js';
import type { ShardRunEnd } from './shard-attempt.js';
import { ShardInputCache } from './shard-input-cache.js';
import { shardKeyText } from '../stores/shard-queue.js';
import type { ResourceCapacity, StepResources } from '../core/resources.js';
import { ResourcePool } from './resource-pool.js';

/** What a worker needs to drive a stored flow: its definition and the engine settings it runs under. */
export interface WorkerFlowSetup {
  definition: FlowDefinition;
  retryPolicy?: RetryPolicyOptions;
  baseDir?: string;
}

/**
 * Finds the definition of a stored flow from its `FlowInitialized` (e.g. the flow file recorded in its
 * metadata). Throwing marks the flow unresolvable for this worker; other workers may still run it.
 */
export type FlowResolver = (flowId: string, initialized: EventOf<'FlowInitialized'>) => Promise<WorkerFlowSetup>;

/** What one visit of a claimed flow by a worker came to. */
export type WorkerOutcome =
  | { kind: 'completed'; flowId: string; flow: FlowInstance }
  | { kind: 'failed'; flowId: string; flow: FlowInstance }
  | { kind: 'cancelled'; flowId: string; flow: FlowInstance }
  /** The worker was asked to stop: the flow was left between two steps, for anyone to continue. */
  | { kind: 'stopped'; flowId: string; flow: FlowInstance }
  /** Its next attempt is a retry not due before `notBefore` (epoch ms): back in the queue until then. */
  | { kind: 'waiting'; flowId: string; notBefore: number }
  /** Another process got there first (it appended meanwhile or already ended the flow): not ours to report. */
  | { kind: 'busy'; flowId: string }
  /** This worker lost the flow's lease (e.g. the database was away too long): another worker continues it. */
  | { kind: 'lost'; flowId: string }
  /**
   * Its next step needs more cores or memory than this worker has in all (`resources`): given back at
   * once for a worker that has enough, and passed over by this one until its log moves on.
   */
  | { kind: 'unfit'; flowId: string; stepId: string; need: StepResources; capacity: ResourceCapacity }
  /** Its definition could not be found or does not match its log. */
  | { kind: 'unresolvable'; flowId: string; error: Error }
  /** The database failed (after the store's own bounded retries); the flow is claimable again once its lease expires. */
  | { kind: 'error'; flowId: string; error: Error }
  /**
   * One work item this worker claimed: a shard of a sharded step (`shardIndex`; the flow's coordinator,
   * maybe another worker, merges it), or a graph's step (`item: 'step'`, `shardIndex` 0).
   */
  | { kind: 'shard'; item?: 'step'; flowId: string; stepIndex: number; shardIndex: number; end: ShardRunEnd | 'unresolvable' | 'unfit' | 'error'; error?: Error };

/** Told when the database becomes unreachable and when it is back (said once each, not per attempt). */
export type DatabaseState = { kind: 'unreachable'; error: Error } | { kind: 'reachable'; downMs: number };

export interface FlowWorkerOptions {
  store: FlowStore;
  resolve: FlowResolver;
  /** Flows driven at the same time by this worker; default 1. */
  concurrency?: number;
  /**
   * The cores and memory this worker hands out to the attempts of steps that declare `resources`
   * (docs/resources.md): an attempt starts once its needs fit in what is left, a flow or shard whose
   * step needs more than all of it is never run here, and no more work is claimed while nothing is
   * left. Absent: `resources` are not looked at (every step runs as if it declared none).
   */
  resources?: ResourceCapacity;
  /** Longest sleep of an idle worker between looks (woken earlier by NOTIFY or a due retry); default 5000 ms. */
  pollMs?: number;
  /** Lease of a claimed flow; default 30 s. */
  leaseMs?: number;
  /** How often the leases are renewed; default 10 s. */
  heartbeatMs?: number;
  /** Lease owner name; default `host:pid:random`. */
  owner?: string;
  clock?: Clock;
  /** Where command steps make their attempts' directories (see `FlowEngineOptions.workRoot`). */
  workRoot?: string;
  /** Threads for shard attempts (see `FlowEngineOptions.threads`); owned by the caller. */
  threads?: FlowEngineOptions['threads'];
  /** Where the batch outputs of its attempts and shard merges are cut into chunks (see `FlowEngineOptions.chunkLimits`). */
  chunkLimits?: FlowEngineOptions['chunkLimits'];
  onEvent?: FlowEngineOptions['onEvent'];
  /** Every retry decision of the engines this worker runs (see `FlowEngineOptions.onRetryDecision`). */
  onRetryDecision?: FlowEngineOptions['onRetryDecision'];
  onOutcome?: (outcome: WorkerOutcome) => void;
  onClaim?: (flowIds: readonly string[]) => void;
  onHeartbeat?: (renewed: number, lost: number) => void;
  onDatabase?: (state: DatabaseState) => void;
}

export interface WorkerRunOptions {
  /** Aborting stops the worker after the attempts in flight have recorded their results. */
  signal?: AbortSignal;
  /** Return once no open flow is left that this worker can claim now or later (flows leased by others excepted). */
  untilIdle?: boolean;
}

const MAX_OUTAGE_BACKOFF_MS = 30_000;
/** Flows remembered as too big for this worker; forgetting one costs one more claim and log read. */
const MAX_UNFIT = 1_000;

/**
 * Runs the flows of the flow queue, in as many processes and machines as share the database. Each
 * turn is one claim (`FOR UPDATE SKIP LOCKED`: never what another worker holds) of runnable flows to
 * coordinate and, in the slots left, of due work items of any flow (shards of mapped steps, graph
 * steps); everything runs under leases that one heartbeat renews with one statement. A flow is given
 * back when it ends, stops or waits for a retry (then not due before that retry). An idle worker sleeps until notified (LISTEN/NOTIFY on PostgreSQL), until the
 * earliest due time, or `pollMs`. A worker that dies leaves its leases to expire; whoever claims such
 * a flow next records its Running attempt as a lost Transient attempt and retries it under the policy.
 * An unreachable database is waited out with bounded, jittered backoff, however long it lasts; a
 * database that refuses the worker (a missing privilege, a wrong schema: see `StoreFailure`) is no
 * outage, so the worker stops and `run` rejects with that error once the attempts in flight ended.
 */
export class FlowWorker {
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly clock: Clock;
  /** Every lease of this worker, flows and work items (shards and graph steps of any flow), on one heartbeat. */
  private readonly leases: LeaseKeeper;
  /** The whole inputs of the mapped steps whose shards this worker ran lately: read once, not per shard. */
  private readonly shardInputs = new ShardInputCache();
  /** One for every flow this worker drives: their appends ready at the same moment share a commit. */
  private readonly committer: GroupCommitter;
  /**
   * The one engine of this worker: every flow runs under its leases (one heartbeat renews them all),
   * its committer and its resource pool, with its flow file's retry policy and base directory.
   */
  private readonly engine: FlowEngine;
  /** Each flow setup's retry policy, compiled once. */
  private readonly policies = new WeakMap<RetryPolicyOptions, RetryPolicy>();
  /** Flows already reported unresolvable, with the reason: said once, not on every claim. */
  private readonly unresolvable = new Map<string, string>();
  private readonly pool: ResourcePool | undefined;
  /** Flows whose next step needs more than this worker has, at the version seen: passed over until their log moves on. */
  private readonly unfitFlows = new Map<string, number>();
  /** Mapped steps (`flowId:stepIndex`) whose shards need more than this worker has: their shards are never claimed here. */
  private readonly unfitSteps = new Map<string, { flowId: string; stepIndex: number }>();
  private wake: () => void = () => undefined;

  constructor(private readonly options: FlowWorkerOptions) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    this.pollMs = Math.max(1, options.pollMs ?? 5_000);
    this.clock = options.clock ?? systemClock;
    this.pool = options.resources === undefined ? undefined : new ResourcePool(options.resources);
    this.committer = new GroupCommitter(options.store);
    this.leases = new LeaseKeeper({
      store: options.store,
      ...(options.owner === undefined ? {} : { owner: options.owner }),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      ...(options.onHeartbeat === undefined ? {} : { onHeartbeat: options.onHeartbeat }),
      clock: this.clock,
    });
    this.engine = this.buildEngine();
  }

  /** The name this worker's leases carry. */
  get owner(): string {
    return this.leases.owner;
  }

  /** Claims and runs flows until aborted (or idle, with `untilIdle`); returns every reported outcome. */
  async run(options: WorkerRunOptions = {}): Promise<WorkerOutcome[]> {
    // Aborted by the caller, or by a failure that stops the worker: the flows in flight stop between steps.
    const stopping = new AbortController();
    const signal = options.signal === undefined ? stopping.signal : AbortSignal.any([options.signal, stopping.signal]);
    const outcomes: WorkerOutcome[] = [];
    const inFlight = new Map<string, Promise<void>>();
    // Set by a NOTIFY, a finished visit or the stop while the loop was busy, so that it looks again at once.
    const wake = { pending: false, now: (): void => undefined };
    const wakeUp = (): void => {
      wake.pending = true;
      wake.now();
    };
    this.wake = wakeUp;
    signal.addEventListener('abort', wakeUp, { once: true });
    // Listening needs a connection of its own: the first claims go meanwhile, and the loop sleeps only
    // after a claim that started once it listened (a flow made claimable before that is then found).
    let listening = false;
    const subscription = this.subscribe(signal).then((unsubscribe) => {
      listening = true;
      return unsubscribe;
    });
    let downSince: number | null = null;
    let failures = 0;
    // A failure no waiting mends: the loop ends, the attempts in flight finish, and `run` rejects with it.
    let fatal: Error | undefined;
    const noteFatal = (outcome: WorkerOutcome): void => {
      const error = outcome.kind === 'error' || outcome.kind === 'shard' ? outcome.error : undefined;
      if (error !== undefined && refusesWorker(error)) {
        fatal ??= error;
        stopping.abort(error);
      }
    };
    try {
      while (!signal.aborted) {
        wake.pending = false;
        const listenedBeforeClaim = listening;
        let claimed: ClaimedWorkLeases = { flows: [], items: [] };
        let nextLook = this.pollMs;
        // Every slot taken: only a visit's end (or the stop) gives the loop something to do.
        let full = false;
        try {
          // A worker whose cores or memory are all taken claims nothing more: others may have room now.
          const spare = this.pool?.hasSpare() !== false;
          const free = spare ? this.concurrency - inFlight.size : 0;
          // One claim per turn: flows to coordinate first, then work items of any flow (shards, graph steps).
          if (free > 0) claimed = await this.leases.claimWork(free, { skipFlows: this.skippedFlows(), skipSteps: [...this.unfitSteps.values()] });
          if (claimed.flows.length > 0) this.options.onClaim?.(claimed.flows.map((c) => c.lease.flowId));
          if (downSince !== null) this.options.onDatabase?.({ kind: 'reachable', downMs: this.clock.now() - downSince });
          downSince = null;
          failures = 0;
          for (const { lease, events } of claimed.flows) {
            const visit = this.visit(lease, events, signal).then((outcome) => {
              inFlight.delete(lease.flowId);
              if (!this.alreadyReported(outcome)) {
                outcomes.push(outcome);
                this.options.onOutcome?.(outcome);
              }
              noteFatal(outcome);
              this.wake();
            });
            inFlight.set(lease.flowId, visit);
          }
          for (const lease of claimed.items) {
            const key = `shard:${shardKeyText(lease)}`;
            const visit = this.visitShard(lease).then((outcome) => {
              inFlight.delete(key);
              outcomes.push(outcome);
              this.options.onOutcome?.(outcome);
              noteFatal(outcome);
              this.wake();
            });
            inFlight.set(key, visit);
          }
          const got = claimed.flows.length + claimed.items.length;
          if (got > 0 && inFlight.size < this.concurrency) continue; // there may be more
          full = inFlight.size >= this.concurrency;
          if (inFlight.size === 0 && got === 0) {
            const wakeAt = await this.options.store.nextWakeAt();
            // Shards held by others may fail and come back, and their flow's next step may follow.
            if (options.untilIdle === true && (wakeAt === null || !(await this.anyUnleasedOpen())) && !(await this.options.store.hasOpenShards())) break;
            if (wakeAt !== null) nextLook = Math.min(this.pollMs, Math.max(0, wakeAt - this.clock.now()) + 5);
            // Flows due now that this worker passes over (too big for it) must not make it spin.
            if (this.unfitFlows.size > 0 && nextLook <= 5) nextLook = this.pollMs;
          }
          // A flow made claimable before this worker listened woke nobody: look once more before sleeping.
          if (!full && !listenedBeforeClaim) {
            await subscription;
            continue;
          }
        } catch (error) {
          if (!isStoreOutage(error)) {
            fatal = asError(error);
            stopping.abort(fatal);
            break;
          }
          // The database is away: say so once, then look again with bounded, jittered backoff.
          failures += 1;
          if (downSince === null) {
            downSince = this.clock.now();
            this.options.onDatabase?.({ kind: 'unreachable', error: asError(error) });
          }
          const ceiling = Math.min(MAX_OUTAGE_BACKOFF_MS, 250 * 2 ** Math.min(failures, 10));
          nextLook = ceiling / 2 + Math.random() * (ceiling / 2);
        }
        // Without a timer when every slot is taken: there is nothing to look for until one frees.
        if (!wake.pending) await (full ? new Promise<void>((resolve) => (wake.now = resolve)) : this.sleepUnlessWoken(nextLook, signal, (resolve) => (wake.now = resolve)));
        wake.now = () => undefined;
      }
      await Promise.all(inFlight.values());
    } finally {
      this.wake = () => undefined;
      signal.removeEventListener('abort', wakeUp);
      await subscription.then((unsubscribe) => unsubscribe()).catch(() => undefined);
      this.leases.close();
    }
    if (fatal !== undefined) throw fatal;
    return outcomes;
  }

  /** Runs one claimed shard of a flow another visit (here or in another worker) coordinates. */
  private async visitShard(lease: WorkItemLease): Promise<WorkerOutcome> {
    const where = { kind: 'shard' as const, ...(lease.kind === 'step' ? { item: 'step' as const } : {}), flowId: lease.flowId, stepIndex: lease.stepIndex, shardIndex: lease.shardIndex };
    let events: Awaited<ReturnType<FlowStore['list']>>;
    let setup: WorkerFlowSetup;
    try {
      events = await this.options.store.list(lease.flowId);
      const initialized = events[0];
      if (initialized?.type !== 'FlowInitialized') throw new CorruptEventError(lease.flowId, 1, 'the log does not start with FlowInitialized');
      setup = await this.options.resolve(lease.flowId, initialized);
    } catch (error) {
      this.leases.forget(lease); // not runnable here: let the lease expire for another worker
      return { ...where, end: 'unresolvable', error: asError(error) };
    }
    const step = setup.definition.steps[lease.stepIndex];
    if (this.pool !== undefined && step !== undefined && !this.pool.fits(step.resources)) {
      // Given back due at once, for a worker with enough; this one never claims this step's shards again.
      this.unfitSteps.set(`${lease.flowId}:${lease.stepIndex}`, { flowId: lease.flowId, stepIndex: lease.stepIndex });
      await this.leases.releaseItem(lease, { at: this.clock.now() });
      return { ...where, end: 'unfit' };
    }
    try {
      if (lease.kind === 'step') return { ...where, end: await this.engine.runBranch(lease, setup.definition, events, this.settingsOf(setup)) };
      return { ...where, end: await this.engine.runShard(lease, setup.definition, events, { inputs: this.shardInputs, ...this.settingsOf(setup) }) };
    } catch (error) {
      this.leases.forget(lease);
      return { ...where, end: 'error', error: asError(error) };
    }
  }

  /** Sleeps `ms`, or less when woken (`onWake` receives the function that wakes it; the run's stop calls it too). */
  private async sleepUnlessWoken(ms: number, signal: AbortSignal, onWake: (resolve: () => void) => void): Promise<void> {
    if (signal.aborted) return;
    // One controller per sleep, aborted with a plain reason: no combined signal, no AbortError built.
    const woken = new AbortController();
    onWake(() => woken.abort(null));
    await this.clock.sleep(ms, woken.signal);
  }

  /** Wakes the loop on NOTIFY; a store that cannot listen now is polled instead. */
  private async subscribe(signal: AbortSignal | undefined): Promise<() => Promise<void>> {
    if (signal?.aborted === true) return () => Promise.resolve();
    try {
      return await this.options.store.subscribe(() => {
        this.wake();
        this.engine.nudge();
      });
    } catch {
      return () => Promise.resolve();
    }
  }

  /** For `untilIdle`: whether some open flow nobody holds is left (due now or later). */
  private async anyUnleasedOpen(): Promise<boolean> {
    const open = await this.options.store.listFlows({ status: ['pending', 'running', 'waiting'], limit: 1000 });
    return open.some(
      (f) => (f.leaseOwner === null || (f.leaseExpiresAt !== null && Date.parse(f.leaseExpiresAt) < this.clock.now())) && this.unfitFlows.get(f.flowId) !== f.version,
    );
  }

  /** The flows passed over in claims: those whose next step this worker could never run, as last seen. */
  private skippedFlows(): { flowId: string; version: number }[] {
    return [...this.unfitFlows].map(([flowId, version]) => ({ flowId, version }));
  }

  private alreadyReported(outcome: WorkerOutcome): boolean {
    if (outcome.kind === 'shard') return false;
    if (outcome.kind !== 'unresolvable') {
      this.unresolvable.delete(outcome.flowId);
      return false;
    }
    if (this.unresolvable.get(outcome.flowId) === outcome.error.message) return true;
    this.unresolvable.set(outcome.flowId, outcome.error.message);
    return false;
  }

  /**
   * Runs one claimed flow as far as it goes now, then gives it back (or lets the lease expire); from
   * the log the claim returned, or read here when it did not.
   */
  private async visit(lease: FlowLease, claimedEvents: readonly FlowEvent[] | undefined, signal: AbortSignal | undefined): Promise<WorkerOutcome> {
    const { flowId } = lease;
    let release = true;
    /** Given back not due before this (nothing to do before a retry's time), while its log stays at that version. */
    let until: { at: number; version: number } | undefined;
    try {
      const events = claimedEvents ?? (await this.options.store.list(flowId));
      const initialized = events[0];
      if (initialized?.type !== 'FlowInitialized') {
        release = false;
        return { kind: 'unresolvable', flowId, error: new CorruptEventError(flowId, 1, 'the log does not start with FlowInitialized') };
      }
      const engine = this.engine;
      let setup: WorkerFlowSetup;
      let handle: FlowHandle;
      try {
        setup = await this.options.resolve(flowId, initialized);
        handle = await engine.open(flowId, setup.definition, { events, ...this.settingsOf(setup) });
      } catch (error) {
        release = false; // not runnable here: let the lease expire rather than claim it again at once
        return { kind: 'unresolvable', flowId, error: asError(error) };
      }
      // Claimed from a stale row: someone ended it since. Theirs to report, not ours.
      if (isEnded(handle.flow.status)) return { kind: 'busy', flowId };
      const end = await engine.runToEnd(handle, { lease, waitForRetries: false, ...(signal === undefined ? {} : { signal }) });
      release = end.status !== 'completed' && end.status !== 'failed'; // the ending append cleared the lease
      if (end.status === 'completed') return { kind: 'completed', flowId, flow: end };
      if (end.status === 'cancelled') return { kind: 'cancelled', flowId, flow: end };
      if (end.status === 'failed') return { kind: 'failed', flowId, flow: end };
      if (lease.signal.aborted) {
        release = false;
        return { kind: 'lost', flowId };
      }
      const unfit = signal?.aborted === true ? undefined : engine.unfitStep(handle);
      if (unfit !== undefined && this.pool !== undefined) {
        // Released now (not left to expire): a worker with enough may take it at once.
        this.unfitFlows.delete(flowId);
        this.unfitFlows.set(flowId, handle.version);
        // Bounded: the oldest entries (mostly flows other workers ended since) go first.
        if (this.unfitFlows.size > MAX_UNFIT) this.unfitFlows.delete(this.unfitFlows.keys().next().value as string);
        const need = setup.definition.steps[unfit.index]?.resources ?? {};
        return { kind: 'unfit', flowId, stepId: unfit.stepId, need, capacity: this.pool.capacity };
      }
      this.unfitFlows.delete(flowId);
      const idleUntil = signal?.aborted === true ? null : nothingDueBefore(end, this.clock.now());
      if (idleUntil !== null) until = { at: idleUntil, version: handle.version };
      const notBefore = dueTime(end);
      if (notBefore !== null && notBefore > this.clock.now()) return { kind: 'waiting', flowId, notBefore };
      return { kind: 'stopped', flowId, flow: end };
    } catch (error) {
      if (isConcurrencyError(error) || error instanceof FlowLeasedError) return { kind: 'busy', flowId };
      release = false;
      return { kind: 'error', flowId, error: asError(error) };
    } finally {
      if (release) await this.leases.release(lease, until);
      else this.leases.forget(lease);
    }
  }

  /** A flow setup's retry policy (compiled once per policy object) and base directory, for the engine's `open`. */
  private settingsOf(setup: WorkerFlowSetup): { retryPolicy?: RetryPolicy; baseDir?: string } {
    let policy: RetryPolicy | undefined;
    if (setup.retryPolicy !== undefined) {
      policy = this.policies.get(setup.retryPolicy);
      if (policy === undefined) {
        policy = RetryPolicy.from(setup.retryPolicy);
        this.policies.set(setup.retryPolicy, policy);
      }
    }
    return { ...(policy === undefined ? {} : { retryPolicy: policy }), ...(setup.baseDir === undefined ? {} : { baseDir: setup.baseDir }) };
  }

  private buildEngine(): FlowEngine {
    return new FlowEngine({
      store: this.options.store,
      clock: this.clock,
      leases: this.leases,
      ...(this.pool === undefined ? {} : { resources: this.pool }),
      concurrency: this.concurrency,
      shareBranches: true,
      ...(this.options.threads === undefined ? {} : { threads: this.options.threads }),
      ...(this.options.chunkLimits === undefined ? {} : { chunkLimits: this.options.chunkLimits }),
      ...(this.options.workRoot === undefined ? {} : { workRoot: this.options.workRoot }),
      append: (...args) => this.committer.append(...args),
      ...(this.options.onEvent === undefined ? {} : { onEvent: this.options.onEvent }),
      ...(this.options.onRetryDecision === undefined ? {} : { onRetryDecision: this.options.onRetryDecision }),
    });
  }
}

/** When the flow's next attempt may start, if a retry holds it back. */
function dueTime(flow: FlowInstance): number | null {
  const slot = flow.steps[flow.cursor];
  if (slot?.status !== 'Pending' || slot.notBefore === null) return null;
  return Date.parse(slot.notBefore);
}

/**
 * The earliest retry time of a flow none of whose steps can start before it (epoch ms), or null when
 * one can start now, or some step is Running (its outcome, or its loss, is appended first and makes
 * the flow due again), or no retry waits. A coordinator that gives such a flow back makes it due at
 * that time only, so that no worker claims it again and again to find nothing to do.
 */
function nothingDueBefore(flow: FlowInstance, now: number): number | null {
  let earliest: number | null = null;
  for (const [index, slot] of flow.steps.entries()) {
    if (slot.status === 'Running') return null;
    if (slot.status !== 'Pending' || !needsDone(flow, index)) continue;
    const at = slot.notBefore === null ? now : Date.parse(slot.notBefore);
    if (at <= now) return null;
    earliest = earliest === null ? at : Math.min(earliest, at);
  }
  return earliest;
}

/**
 * A flow's database error that concerns every flow (a missing privilege, a wrong schema) rather than
 * that flow's own data: no other flow can run either, so the worker stops instead of spinning.
 */
function refusesWorker(error: Error): boolean {
  return error instanceof StoreError && (error.failure === 'permission' || error.failure === 'configuration');
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
