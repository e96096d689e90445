import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ERROR_CLASSES } from '../core/error-class.js';
import type { FlowEvent } from '../core/events.js';
import type { FlowInstance } from '../core/flow-state.js';
import { OPEN_STATUSES, type OpenQueueStatus } from '../core/queue-status.js';
import type { FlowQueue } from '../stores/flow-store.js';
import type { RetryDecisionNote } from './engine.js';
import type { DatabaseState, FlowWorkerOptions, WorkerOutcome } from './worker.js';

/** The worker hooks the metrics listen on: spread them into `FlowWorkerOptions`. */
export type WorkerMetricsHooks = Required<
  Pick<FlowWorkerOptions, 'onEvent' | 'onOutcome' | 'onClaim' | 'onHeartbeat' | 'onDatabase' | 'onRetryDecision'>
>;

export interface WorkerMetricsOptions {
  /** Where the queue depth is read on each scrape. */
  queue: Pick<FlowQueue, 'queueDepth'>;
  /** Also export Node's process metrics (CPU, memory, event loop lag, GC) in the same registry; default true. */
  processMetrics?: boolean;
  /** Longest wait for the queue depth on a scrape; past it (or on an error) the last value is reported. Default 2000 ms. */
  queueDepthTimeoutMs?: number;
}

/** Step durations from a few milliseconds to hours (a docking or a conformer search can take long). */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];


/** The error code of an attempt recorded for a worker that disappeared (`WorkerLostError`). */
const WORKER_LOST = 'WORKER_LOST';

/**
 * A worker's Prometheus metrics, in a registry of its own (never prom-client's global one, so that
 * several workers or tests in one process do not mix). Everything is counted from the worker's hooks:
 * the events its engines commit, the outcomes of its visits, its claims and heartbeats and the retry
 * decisions. Counters count what this process did; the queue depth is the database's, read on scrape.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  /** For the caller that serves `metrics()`: the Prometheus text format's content type. */
  readonly contentType: string = this.registry.contentType;
  readonly hooks: WorkerMetricsHooks;

  private readonly claimed: Counter;
  private readonly completed: Counter;
  private readonly failed: Counter;
  private readonly cancelled: Counter;
  private readonly stepsFinished: Counter;
  private readonly attemptsFailed: Counter<'error_class'>;
  private readonly retriesScheduled: Counter;
  private readonly retriesRejected: Counter;
  private readonly leaseRenewals: Counter;
  private readonly leasesLost: Counter;
  private readonly recoveries: Counter;
  private readonly stepDuration: Histogram;
  private readonly stepsCached: Counter;
  private readonly databaseUp: Gauge;
  /** The last queue depth read, reported again while the database does not answer. */
  private lastDepth: Record<OpenQueueStatus, number> | null = null;

  constructor(private readonly options: WorkerMetricsOptions) {
    const registers = [this.registry];
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers });
    this.claimed = counter('chemflow_flows_claimed_total', 'Flows claimed from the flow queue by this worker.');
    this.completed = counter('chemflow_flows_completed_total', 'Flows this worker ran to FlowCompleted.');
    this.failed = counter('chemflow_flows_failed_total', 'Flows this worker left failed (a step failed and is not retried automatically).');
    this.cancelled = counter('chemflow_flows_cancelled_total', 'Flows found cancelled while this worker ran them.');
    this.stepsFinished = counter('chemflow_steps_finished_total', 'Step attempts that finished successfully (StepFinished).');
    this.stepsCached = counter('chemflow_steps_cached_total', 'Steps taken from the step cache instead of run (StepFinished with cachedFrom).');
    this.attemptsFailed = new Counter({
      name: 'chemflow_step_attempts_failed_total',
      help: 'Failed step attempts (StepFailed), lost ones included, by error class.',
      labelNames: ['error_class'],
      registers,
    });
    for (const errorClass of ERROR_CLASSES) this.attemptsFailed.inc({ error_class: errorClass }, 0);
    this.retriesScheduled = counter('chemflow_retries_scheduled_total', 'Retries scheduled by this worker.');
    this.retriesRejected = counter(
      'chemflow_retries_rejected_total',
      'Retries refused by the retry gate, e.g. a Transient failure past maxRetries.',
    );
    this.leaseRenewals = counter('chemflow_lease_renewals_total', 'Flow leases renewed by the heartbeat.');
    this.leasesLost = counter('chemflow_leases_lost_total', 'Flow leases found lost by the heartbeat (expired, or not renewable in time).');
    this.recoveries = counter('chemflow_attempts_recovered_total', 'Attempts of vanished workers recorded by this worker as Transient WORKER_LOST.');
    this.stepDuration = new Histogram({
      name: 'chemflow_step_duration_seconds',
      help: 'Duration of the step attempts this worker ran, from StepStarted to StepFinished or StepFailed.',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.databaseUp = new Gauge({ name: 'chemflow_database_up', help: '1 while the worker reaches its database, 0 during an outage.', registers });
    this.databaseUp.set(1);
    const depth = this.readDepth.bind(this);
    new Gauge({
      name: 'chemflow_queue_depth',
      help: 'Open flows in the flow queue by status (the whole database, read on scrape).',
      labelNames: ['status'],
      registers,
      async collect() {
        const current = await depth();
        this.reset();
        if (current !== null) for (const status of OPEN_STATUSES) this.set({ status }, current[status]);
      },
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });

    this.hooks = {
      onEvent: (event, flow) => this.onEvent(event, flow),
      onOutcome: (outcome) => this.onOutcome(outcome),
      onClaim: (flowIds) => this.claimed.inc(flowIds.length),
      onHeartbeat: (renewed, lost) => {
        this.leaseRenewals.inc(renewed);
        this.leasesLost.inc(lost);
      },
      onDatabase: (state: DatabaseState) => this.databaseUp.set(state.kind === 'reachable' ? 1 : 0),
      onRetryDecision: (decision: RetryDecisionNote) =>
        (decision.outcome === 'scheduled' ? this.retriesScheduled : this.retriesRejected).inc(),
    };
  }

  /** The Prometheus text exposition of every metric; never fails for want of a database. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  private onEvent(event: FlowEvent, flow: FlowInstance): void {
    if (event.type === 'StepFinished' && (event.cachedFrom ?? null) !== null) {
      // Not an attempt: nothing ran, so neither a finished attempt nor a duration.
      this.stepsCached.inc();
      return;
    }
    if (event.type === 'StepFinished') this.stepsFinished.inc();
    else if (event.type === 'StepFailed') {
      this.attemptsFailed.inc({ error_class: event.errorClass });
      // A lost attempt's span is the dead worker's silence, not the step's work: not a duration.
      if (event.error.code === WORKER_LOST) {
        this.recoveries.inc();
        return;
      }
    } else return;
    const startedAt = flow.steps[event.stepIndex]?.startedAt;
    if (startedAt === null || startedAt === undefined) return;
    const seconds = (Date.parse(event.ts) - Date.parse(startedAt)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) this.stepDuration.observe(seconds);
  }

  private onOutcome(outcome: WorkerOutcome): void {
    if (outcome.kind === 'completed') this.completed.inc();
    else if (outcome.kind === 'failed') this.failed.inc();
    else if (outcome.kind === 'cancelled') this.cancelled.inc();
  }

  /** The queue depth now, or the last one read if the database does not answer in time (null if never). */
  private async readDepth(): Promise<Record<OpenQueueStatus, number> | null> {
    const timeoutMs = this.options.queueDepthTimeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
      timer.unref();
    });
    try {
      const read = this.options.queue.queueDepth().catch(() => null);
      const depth = await Promise.race([read, timeout]);
      if (depth !== null) this.lastDepth = depth;
    } finally {
      clearTimeout(timer);
    }
    return this.lastDepth;
  }
}
