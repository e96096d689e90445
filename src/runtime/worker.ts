import { setTimeout as delay } from 'node:timers/promises';
import type { FlowDefinition } from '../core/definition.js';
import { CorruptEventError, isConcurrencyError } from '../core/errors.js';
import type { EventOf } from '../core/events.js';
import type { FlowInstance } from '../core/flow-state.js';
import { replay } from '../core/reducer.js';
import type { RetryPolicyOptions } from '../core/retry-policy.js';
import type { FlowStore, FlowSummary } from '../stores/flow-store.js';
import { systemClock, type Clock } from './clock.js';
import { FlowEngine, type FlowEngineOptions } from './engine.js';

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

/** What one visit of a flow by a worker came to. */
export type WorkerOutcome =
  | { kind: 'completed'; flowId: string; flow: FlowInstance }
  | { kind: 'failed'; flowId: string; flow: FlowInstance }
  /** The worker was asked to stop: the flow was left between two steps, for anyone to continue. */
  | { kind: 'stopped'; flowId: string; flow: FlowInstance }
  /** Another process is running its current attempt, or ended the flow since this pass listed it. */
  | { kind: 'busy'; flowId: string }
  /** Its next attempt is a retry not due before `notBefore` (epoch ms). */
  | { kind: 'waiting'; flowId: string; notBefore: number }
  /** Its definition could not be found or does not match its log. */
  | { kind: 'unresolvable'; flowId: string; error: Error }
  /** The database failed (after the store's own bounded retries); the flow is tried again next pass. */
  | { kind: 'error'; flowId: string; error: Error };

export interface FlowWorkerOptions {
  store: FlowStore;
  resolve: FlowResolver;
  /** Flows driven at the same time by this worker; default 1. */
  concurrency?: number;
  /** Pause between passes that found nothing to do; default 1000 ms. */
  pollMs?: number;
  clock?: Clock;
  /** Passed to each engine: when an attempt with no result is presumed lost (its worker died). */
  staleAttemptMs?: number;
  onEvent?: FlowEngineOptions['onEvent'];
  onOutcome?: (outcome: WorkerOutcome) => void;
}

export interface WorkerRunOptions {
  /** Aborting stops the worker after the attempts in flight have recorded their results. */
  signal?: AbortSignal;
  /** Return once no open flow is left that this worker can run now or later (busy ones excepted). */
  untilIdle?: boolean;
}

const PROGRESS: ReadonlySet<WorkerOutcome['kind']> = new Set(['completed', 'failed', 'stopped']);

/**
 * Drives every open flow of a store to its end, in as many processes and machines as share the
 * database. It needs no lock of its own: the engine's optimistic appends let only one process record
 * an attempt's `StepStarted`, and a recent `Running` attempt started elsewhere makes any other engine
 * back off (`StepInProgressError`), so no attempt ever runs twice at the same time. A worker that dies
 * mid-attempt leaves a `Running` step that another worker records as a lost Transient attempt once it
 * is stale, and retries under the policy.
 */
export class FlowWorker {
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly clock: Clock;
  /** Flows already reported unresolvable, with the reason: said once, not on every pass. */
  private readonly unresolvable = new Map<string, string>();

  constructor(private readonly options: FlowWorkerOptions) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    this.pollMs = Math.max(0, options.pollMs ?? 1000);
    this.clock = options.clock ?? systemClock;
  }

  /** Passes over the open flows until aborted (or idle, with `untilIdle`); returns every outcome. */
  async run(options: WorkerRunOptions = {}): Promise<WorkerOutcome[]> {
    const outcomes: WorkerOutcome[] = [];
    while (options.signal?.aborted !== true) {
      const pass = await this.pass(options.signal);
      outcomes.push(...pass);
      if (pass.some((o) => PROGRESS.has(o.kind))) continue; // something moved: look again at once
      const dueTimes = pass.flatMap((o) => (o.kind === 'waiting' ? [o.notBefore] : []));
      if (options.untilIdle === true && dueTimes.length === 0) break;
      const untilDue = dueTimes.length === 0 ? this.pollMs : Math.min(...dueTimes) - this.clock.now();
      await pause(Math.min(Math.max(untilDue, 0), this.pollMs), options.signal);
    }
    return outcomes;
  }

  /** Visits every open flow once, `concurrency` at a time. */
  async pass(signal?: AbortSignal): Promise<WorkerOutcome[]> {
    const queue = (await this.options.store.listFlows()).filter(isOpen);
    const outcomes: WorkerOutcome[] = [];
    const lane = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined && signal?.aborted !== true; next = queue.shift()) {
        const outcome = await this.visit(next.flowId, signal);
        if (this.alreadyReported(outcome)) continue;
        outcomes.push(outcome);
        this.options.onOutcome?.(outcome);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, lane));
    return outcomes;
  }

  private alreadyReported(outcome: WorkerOutcome): boolean {
    if (outcome.kind !== 'unresolvable') {
      this.unresolvable.delete(outcome.flowId);
      return false;
    }
    if (this.unresolvable.get(outcome.flowId) === outcome.error.message) return true;
    this.unresolvable.set(outcome.flowId, outcome.error.message);
    return false;
  }

  private async visit(flowId: string, signal: AbortSignal | undefined): Promise<WorkerOutcome> {
    try {
      const events = await this.options.store.list(flowId);
      const initialized = events[0];
      if (initialized?.type !== 'FlowInitialized')
        return { kind: 'unresolvable', flowId, error: new CorruptEventError(flowId, 1, 'the log does not start with FlowInitialized') };
      let setup: WorkerFlowSetup;
      let flow: FlowInstance;
      try {
        setup = await this.options.resolve(flowId, initialized);
        flow = replay(flowId, events, setup.definition);
      } catch (error) {
        return { kind: 'unresolvable', flowId, error: asError(error) };
      }
      // Listed as open, but another worker ended it since: theirs to report, not ours.
      if (flow.completed || flow.failed) return { kind: 'busy', flowId };
      const notBefore = dueTime(flow);
      if (notBefore !== null && notBefore > this.clock.now()) return { kind: 'waiting', flowId, notBefore };
      const engine = new FlowEngine({
        store: this.options.store,
        clock: this.clock,
        ...(setup.retryPolicy === undefined ? {} : { retryPolicy: setup.retryPolicy }),
        ...(setup.baseDir === undefined ? {} : { baseDir: setup.baseDir }),
        ...(this.options.staleAttemptMs === undefined ? {} : { staleAttemptMs: this.options.staleAttemptMs }),
        ...(this.options.onEvent === undefined ? {} : { onEvent: this.options.onEvent }),
      });
      const end = await engine.runToEnd(flowId, setup.definition, signal === undefined ? {} : { signal });
      return { kind: end.completed ? 'completed' : end.failed ? 'failed' : 'stopped', flowId, flow: end };
    } catch (error) {
      // Another process got there first (it appended, or it is running the attempt): its flow, not ours.
      if (isConcurrencyError(error)) return { kind: 'busy', flowId };
      return { kind: 'error', flowId, error: asError(error) };
    }
  }
}

/** A flow that may still have work: neither completed nor stopped by a failure that is not retried. */
function isOpen(summary: FlowSummary): boolean {
  return summary.lastEventType !== 'FlowCompleted' && summary.lastEventType !== 'StepFailed';
}

/** When the flow's next attempt may start, if a retry holds it back. */
function dueTime(flow: FlowInstance): number | null {
  const slot = flow.steps[flow.cursor];
  if (slot?.status !== 'Pending' || slot.notBefore === null) return null;
  return Date.parse(slot.notBefore);
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, signal === undefined ? {} : { signal });
  } catch (error) {
    if ((error as Error).name !== 'AbortError') throw error;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
