import type { JsonObject } from '../core/canonical-json.js';
import type { ClassifiedError } from '../core/error-class.js';
import type { FlowEvent, RetryScheduled } from '../core/events.js';
import type { FlowInstance } from '../core/flow-state.js';
import type { RetryPolicyOptions } from '../core/retry-policy.js';
import type { FlowStore } from '../stores/flow-store.js';
import type { Clock } from './clock.js';
import type { AppendFn } from './flow-session.js';
import type { FlowLease, LeaseKeeper } from './lease-keeper.js';
import type { StepThreads } from './step-threads.js';
import type { ChunkLimits } from '../core/chunk.js';
import type { ResourcePool } from './resource-pool.js';

export interface FlowEngineOptions {
  store: FlowStore;
  /**
   * Default policy of every step without its own; see docs/retry.md. It is resolved into each flow's
   * `FlowInitialized` when the flow starts, so it only applies to flows this engine starts (and to
   * flows recorded before policies were, as a fallback).
   */
  retryPolicy?: RetryPolicyOptions;
  clock?: Clock;
  /** Directory that relative paths in step params refer to; default the process's cwd. */
  baseDir?: string;
  engineVersion?: string;
  /**
   * The leases this engine runs flows and work items under (one per flow, shard or graph step, all
   * renewed by one heartbeat; see docs/architecture.md). Default: a keeper of its own with a 30 s lease
   * and a 10 s heartbeat. A worker passes its keeper so that one heartbeat renews everything it runs.
   */
  leases?: LeaseKeeper;
  /**
   * Where appends go: default a `GroupCommitter` of this engine's own, so that the appends of the flows
   * it drives at the same moment share one transaction (a lone flow's append goes at once). A worker
   * passes its one committer to its engines.
   */
  append?: AppendFn;
  /**
   * Shards of a mapped step this engine runs at once (docs/map.md); default the number of cores. Other
   * processes (workers on the same database) run the shards they claim on top of these.
   */
  concurrency?: number;
  /**
   * Worker threads to run step attempts in (steps loaded from a flow file only): a long synchronous
   * step then never blocks the heartbeat that keeps its lease, and one process uses up to
   * `concurrency` cores on a CPU-bound mapped step. Owned by the caller, who closes it.
   */
  threads?: StepThreads;
  /**
   * Where batch outputs are cut into chunks (`DEFAULT_CHUNK_LIMITS` when absent). Never part of any
   * hash: a batch's hash is that of its whole payload however it is cut.
   */
  chunkLimits?: ChunkLimits;
  /**
   * The cores and memory the attempts of steps that declare `resources` share (docs/resources.md): an
   * attempt waits until its needs fit, and a step that could never fit is not started here (`runToEnd`
   * stops before it, for a process with more to run). Absent: `resources` are not looked at. A worker
   * passes one pool shared by all its visits.
   */
  resources?: ResourcePool;
  /**
   * Where command steps make a directory for each attempt (docs/commands.md); default
   * `<os tmpdir>/chemflow-work`. Never part of any hash.
   */
  workRoot?: string;
  /** How often a coordinator reads the log while other processes hold the rest of its shards; default 500 ms. */
  shardPollMs?: number;
  /**
   * A graph's runnable steps become work items any worker on the store may claim (docs/graphs.md):
   * the holder of the flow's lease publishes them, runs those it claims itself and waits for the
   * others. Default false: every branch runs in this process (`chemflow run`). A worker sets it.
   */
  shareBranches?: boolean;
  /** Called with every committed event and the flow state after it (progress displays, logs). */
  onEvent?: (event: FlowEvent, flow: FlowInstance) => void;
  /**
   * Called with every retry decision, manual or automatic, as it is counted by `retriesScheduled` and
   * `retriesRejected` (e.g. for a worker's metrics, which span all its engines).
   */
  onRetryDecision?: (decision: RetryDecisionNote) => void;
}

/** One retry decision of the engine's gate: a `RetryScheduled` decided, or a retry refused. */
export interface RetryDecisionNote {
  flowId: string;
  stepId: string;
  outcome: 'scheduled' | 'rejected';
}

/** `FlowEngine.open`'s options. */
export interface OpenOptions {
  /** The flow's log, when the caller just read it: no read of its own. */
  events?: readonly FlowEvent[];
  /**
   * This flow's default retry policy, in place of the engine's `retryPolicy`: what a step without a
   * policy of its own, in a log that recorded none, runs under. A `RetryPolicy` is used as it is.
   */
  retryPolicy?: RetryPolicyOptions;
  /** The directory this flow's relative step params refer to, in place of the engine's `baseDir`. */
  baseDir?: string;
}

export interface RunOptions {
  /** The flow's lease, when the caller already holds it (a worker's claim); else the engine acquires it. */
  lease?: FlowLease;
  /**
   * Whether `runToEnd` waits out a retry's backoff (default true). A worker passes false: the flow goes
   * back to the queue until it is due, and the worker moves on.
   */
  waitForRetries?: boolean;
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

export interface RetryOptions {
  reason?: string;
  /** The limit in force; default the step's recorded policy (see `manualRetryLimit`). */
  maxRetries?: number;
}

/** What one call to `next` did. */
export type StepOutcome =
  | { kind: 'finished'; stepId: string; attempt: number }
  | { kind: 'failed'; stepId: string; attempt: number; errorClass: ClassifiedError['errorClass']; retry: RetryScheduled | null }
  | { kind: 'recovered'; stepId: string; attempt: number; retry: RetryScheduled | null }
  | { kind: 'completed' }
  /** The step was recorded Skipped: its condition was false, or every step it needs was skipped. */
  | { kind: 'skipped'; stepId: string }
  /** The flow was cancelled meanwhile: nothing was started (an attempt in flight recorded its outcome). */
  | { kind: 'cancelled' }
  /** A sharded step was left with shards to run (a stop was asked or the lease lost): whoever holds the flow next goes on. */
  | { kind: 'stopped'; stepId: string };

export interface NextResult {
  flow: FlowInstance;
  outcome: StepOutcome;
}
