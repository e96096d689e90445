import type { Artifact } from '../core/artifact.js';
import type { FlowEvent, NewFlowEvent } from '../core/events.js';
import type { ErrorCounts, StepExecutionError } from '../core/step-execution-error.js';

export interface AppendOptions {
  /** Artifacts produced by a `StepFinished` in this batch; deduplicated by hash, written atomically. */
  artifacts?: readonly Artifact[];
}

export interface AppendResult {
  /** The appended events as stored (version, seq). */
  events: FlowEvent[];
  /** The flow's version after the append. */
  version: number;
}

export interface FlowSummary {
  flowId: string;
  name: string;
  version: number;
  lastEventType: FlowEvent['type'];
  createdAt: string;
  updatedAt: string;
}

/** The F8 queries of `step_execution_errors` (the seeds' `PgErrorStore` read side). */
export interface ErrorStore {
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
export interface FlowStore extends ErrorStore {
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

  /** A flow's events ordered by version (empty for an unknown flow). */
  list(flowId: string): Promise<FlowEvent[]>;

  /**
   * Artifacts by hash, in the order asked; throws `ArtifactNotFoundError` for a missing one and
   * `ArtifactIntegrityError` (naming the producing step) for one whose payload no longer matches its hash.
   */
  getArtifacts(hashes: readonly string[]): Promise<Artifact[]>;

  /** Every flow, most recently updated first. */
  listFlows(): Promise<FlowSummary[]>;

  close(): Promise<void>;
}
