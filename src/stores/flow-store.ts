import type { StoredArtifact } from '../core/artifact.js';
import type { FlowEvent, NewFlowEvent } from '../core/events.js';
import type { QueueStatus } from '../core/queue-status.js';
import type { ErrorClass } from '../core/error-class.js';
import type { ErrorCounts, StepExecutionError } from '../core/step-execution-error.js';
import type { BlobStore } from './blobs/blob-store.js';
import type { ShardQueue } from './shard-queue.js';
import type { CacheEntryInput, StepCacheIndex } from './step-cache-index.js';
import type { WorkQueue } from './work-queue.js';

export interface AppendOptions {
  /**
   * Artifacts produced by a `StepFinished` in this batch; deduplicated by hash, written atomically.
   * A batch's chunks and a file's bytes are in `blobs` already (written first: an append that fails
   * leaves at most unreferenced blobs, never an artifact without its bytes).
   */
  artifacts?: readonly StoredArtifact[];
  /**
   * For the batch that creates a flow: the flow is created already leased to this owner, so a process
   * that starts a flow and runs it at once is never raced by a worker claiming it in between.
   */
  lease?: { owner: string; leaseMs: number };
  /**
   * The lease owner under which the appending process holds the flow (its coordinator's lease), if it
   * does. The SQL stores then write the flow's queue row only when the append changes what a claimer
   * reads (status, due time, lease); an append without it (a work item's outcome, a cancellation)
   * writes the row, which keeps a claim or a release from overtaking it (docs/architecture.md).
   */
  holder?: string;
  /**
   * The step cache entry of a StepFinished in this batch (a step run with the cache on), written in
   * the same transaction; skipped when the flow is cancelled (docs/cache.md).
   */
  cacheEntry?: CacheEntryInput;
}

export interface AppendResult {
  /** The appended events as stored (version, seq). */
  events: FlowEvent[];
  /** The flow's version after the append. */
  version: number;
}

/** One append of a batch: the arguments of `FlowStore.append`, with the same meaning. */
export interface AppendRequest {
  flowId: string;
  expectedVersion: number;
  events: readonly NewFlowEvent[];
  options?: AppendOptions;
}

/** What became of one request of a batch: its result, or the error `append` would have thrown for it. */
export type AppendOutcome = { ok: true; result: AppendResult } | { ok: false; error: Error };

/** A flow's row in the flow queue (a projection of its log, kept in the transaction of every append). */
export interface FlowSummary {
  flowId: string;
  name: string;
  status: QueueStatus;
  version: number;
  lastEventType: FlowEvent['type'];
  createdAt: string;
  updatedAt: string;
  /** When it may run next (ISO 8601); null once it ended. */
  nextDueAt: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
}

/** `listFlows` filters; newest (by creation) first. */
export interface FlowQuery {
  /** Any of these statuses (all when empty or absent). */
  status?: readonly QueueStatus[];
  name?: string;
  /** Default 50. */
  limit?: number;
  /** Keyset cursor: only flows listed after this one (the last id of the previous page). */
  after?: string;
  /** Flows created at or after this time (ISO 8601). */
  since?: string;
  /** Flows created before this time (ISO 8601). */
  until?: string;
  /** Only flows with at least one failed attempt of this class. */
  errorClass?: ErrorClass;
  /** Default `newest`: by creation time, newest first; `oldest`: oldest first; `name`: by name, then newest first. */
  sort?: FlowSort;
}

export const FLOW_SORTS = ['newest', 'oldest', 'name'] as const;
export type FlowSort = (typeof FLOW_SORTS)[number];

/** A flow a worker claimed: it holds the lease until it releases it or stops renewing it. */
export interface ClaimedFlow {
  flowId: string;
  status: QueueStatus;
  version: number;
  /**
   * With `ClaimFlowsOptions.events`: the flow's log as the claim read it, ordered by version. It may
   * end before `version` (an append committed while the claim ran) and is absent when a stored event
   * does not decode: the claimer then reads the log itself.
   */
  events?: FlowEvent[];
}

export type LeaseAcquisition =
  | { acquired: true }
  | { acquired: false; reason: 'leased'; owner: string; expiresAt: string }
  | { acquired: false; reason: 'not_found' };

export interface ClaimFlowsOptions {
  limit: number;
  leaseMs: number;
  /**
   * Flows the claimer cannot run as they stand (their next step needs more cores or memory than it
   * has), each at the version it saw: passed over until their log moves on.
   */
  skip?: readonly { flowId: string; version: number }[];
  /** Also return each claimed flow's events (`ClaimedFlow.events`), in the claim's round trip. */
  events?: boolean;
}

/**
 * The flow queue: how workers find work without reading history. Times are the database's own clock
 * (every worker agrees on it); the memory store uses the process's.
 */
export interface FlowQueue {
  /** Flows, newest first, filtered; one indexed query whatever the size of the log. */
  listFlows(query?: FlowQuery): Promise<FlowSummary[]>;

  /**
   * Claims up to `limit` runnable flows (open, due, lease free or expired) for `owner`, skipping rows
   * another claimer holds locked: two workers never claim the same flow.
   */
  claimFlows(owner: string, options: ClaimFlowsOptions): Promise<ClaimedFlow[]>;

  /**
   * Takes the lease of one flow if it is free, expired or already `owner`'s — or held by `takeOverFrom`,
   * a holder the caller knows to be dead (a process of this machine that no longer exists).
   */
  acquireLease(flowId: string, owner: string, leaseMs: number, takeOverFrom?: string): Promise<LeaseAcquisition>;

  /**
   * Gives the flow back: anyone may claim it as soon as it is due. With `until`: not due before
   * `until.at` if its log is still at `until.version` (its coordinator has nothing to do before a
   * retry's time; any append since, or after, makes it due at once).
   */
  releaseLease(flowId: string, owner: string, until?: { at: number; version: number }): Promise<void>;

  /** When an idle worker should look again (epoch ms): the earliest due time or lease expiry of an open flow or shard. */
  nextWakeAt(): Promise<number | null>;

  /** Open flows by status (for metrics). */
  queueDepth(): Promise<Record<'pending' | 'running' | 'waiting', number>>;

  /** Recomputes the queue rows (of one flow, or all) from the log; leases are kept. Returns rows written. */
  rebuildQueue(flowId?: string): Promise<number>;

  /**
   * Calls `listener` when a flow may have become claimable (created, retried, released), possibly
   * from another process (PostgreSQL LISTEN/NOTIFY). Returns the unsubscribe function.
   */
  subscribe(listener: () => void): Promise<() => Promise<void>>;
}

/** `searchErrors` filters over every flow's `step_execution_errors`; newest first. */
export interface ErrorSearch {
  errorClass?: ErrorClass;
  /** `details.error_code`. */
  code?: string;
  stepId?: string;
  /** The flow's name (from the flow queue). */
  flowName?: string;
  /** Rows at or after this time (ISO 8601). */
  since?: string;
  /** Rows before this time (ISO 8601). */
  until?: string;
  /** Default 100. */
  limit?: number;
  /** Keyset cursor: only rows older than this row id (the last `id` of the previous page). */
  before?: number;
}

/** A row found by `searchErrors`: the row, its id (the cursor) and its flow's name. */
export interface FoundError extends StepExecutionError {
  id: number;
  flowName: string;
}

/** The queries of `step_execution_errors` (`PgErrorStore`'s read side). */
export interface ErrorStore {
  /** Rows of every flow matching all the filters given, newest (by row id) first. */
  searchErrors(search: ErrorSearch): Promise<FoundError[]>;

  /** Error rows of a flow (optionally one step), in insertion order. */
  listErrors(flowId: string, stepId?: string): Promise<StepExecutionError[]>;

  /** Error rows of one step ordered by attempt number. */
  getErrorTimeline(flowId: string, stepId: string): Promise<StepExecutionError[]>;

  /** Failed attempts of a flow: the total and per error class. */
  countErrorsByFlow(flowId: string): Promise<ErrorCounts>;
}

/**
 * The one persistence contract of chemflow: an append-only event log per flow, a content-addressed
 * artifact store and the `step_execution_errors` audit table, all written in one atomic `append`.
 * Memory, PGlite and PostgreSQL implement it and pass the same contract suite.
 */
export interface FlowStore extends ErrorStore, FlowQueue, ShardQueue, WorkQueue, StepCacheIndex {
  readonly kind: 'memory' | 'pglite' | 'postgres';

  /**
   * Appends events at versions `expectedVersion + 1 ...` atomically, with the artifacts and, for every
   * `StepFailed`, its `step_execution_errors` row. A stale `expectedVersion` throws `ConcurrencyError`
   * and writes nothing.
   */
  append(
    flowId: string,
    expectedVersion: number,
    events: readonly NewFlowEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult>;

  /**
   * Several appends (of several flows, or several in order for one flow) in ONE transaction: one
   * commit for all. Each request is checked against its own `expectedVersion` and succeeds or fails
   * alone, exactly as `append` would (a stale version or an unstorable value is that request's
   * outcome, never another's). Outcomes come in request order. A failure of the database itself (a
   * lost connection that outlives the retries) rejects the whole batch: no outcome claims a write
   * that might not be durable.
   */
  appendBatch(requests: readonly AppendRequest[]): Promise<AppendOutcome[]>;

  /** A flow's events ordered by version (empty for an unknown flow). */
  list(flowId: string): Promise<FlowEvent[]>;

  /**
   * Artifacts by hash, in the order asked; throws `ArtifactNotFoundError` for a missing one and
   * `ArtifactIntegrityError` (naming the producing step) for a whole one whose payload no longer matches
   * its hash. A batch or file comes as its manifest: its bytes are verified as they are read from `blobs`.
   */
  getArtifacts(hashes: readonly string[]): Promise<StoredArtifact[]>;

  /** Where the bytes of batch chunks and file artifacts are (see `BlobStore`). */
  readonly blobs: BlobStore;

  /**
   * Every blob hash a stored artifact names: the chunks of each batch and the bytes of each file. What
   * `blobs` holds beyond these is garbage (`collectGarbage`).
   */
  referencedBlobs(): Promise<Set<string>>;

  close(): Promise<void>;
}
