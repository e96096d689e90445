import type { StoredArtifact } from '../core/artifact.js';
import type { FlowDefinition, FlowShape } from '../core/definition.js';
import { afterConflict, startedBy } from '../core/decide.js';
import type { FlowEvent, FlowEventBody, NewFlowEvent } from '../core/events.js';
import type { FlowPlan } from '../core/flow-plan.js';
import type { RetryPolicy } from '../core/retry-policy.js';
import type { FlowInstance } from '../core/flow-state.js';
import { replay } from '../core/reducer.js';
import type { AppendOptions, AppendResult, FlowStore } from '../stores/flow-store.js';
import { FlowWriter, type Decide, type Update } from './flow-writer.js';
import type { Clock } from './clock.js';
import type { FlowLease } from './lease-keeper.js';

/**
 * A flow opened by a `FlowEngine`: its state as of one read of its log (or of its creation), shared by
 * every command that follows (`runToEnd`, `next`, `scheduleRetry`), so a command reads the log once.
 * Opened with a `FlowDefinition` it can run steps; opened with only the recorded shape (no step code)
 * it can still be inspected and retried.
 */
export interface FlowHandle<D extends FlowShape = FlowDefinition> {
  readonly flowId: string;
  readonly definition: D;
  /** The replayed state; it follows every event this engine commits. */
  readonly flow: FlowInstance;
  /** The log's head: the `expectedVersion` of the next append. */
  readonly version: number;
}

/** Where a session's events go: the store, or a group committer in front of it. */
export type AppendFn = (flowId: string, expectedVersion: number, events: readonly NewFlowEvent[], options?: AppendOptions) => Promise<AppendResult>;

export interface SessionIo {
  store: FlowStore;
  append: AppendFn;
  clock: Clock;
  onEvent: ((event: FlowEvent, flow: FlowInstance) => void) | undefined;
}

/** Settings of one flow that override its engine's (see `OpenOptions`). */
export interface FlowSetup {
  readonly policy?: RetryPolicy;
  readonly baseDir?: string;
}

/** A handle plus what only the process driving it knows. */
export class FlowSession<D extends FlowShape = FlowDefinition> implements FlowHandle<D> {
  /** The lease this session runs under, once it holds one. */
  lease: FlowLease | undefined;
  /** This flow's own default retry policy and base directory, if the engine's are not its. */
  setup: FlowSetup = {};
  /** What `decide` needs of the definition and the recorded policies, computed once. */
  plan: FlowPlan | undefined;
  /** Outputs of finished steps already in memory, by hash: saves a read per step. */
  artifacts = new Map<string, StoredArtifact>();
  /** The one writer of this flow in this process. */
  private readonly writer: FlowWriter;
  private started: number | null = null;

  constructor(
    readonly definition: D,
    flow: FlowInstance,
    io: SessionIo,
  ) {
    const flowId = flow.id;
    this.writer = new FlowWriter(flow, {
      load: async () => replay(flowId, await io.store.list(flowId), definition),
      now: () => new Date(io.clock.now()).toISOString(),
      // Under its lease, the session's appends that change nothing a claimer reads leave the queue row unwritten.
      append: async (expectedVersion, events, options) =>
        (await io.append(flowId, expectedVersion, events, this.lease === undefined ? options : Object.assign({}, options, { holder: this.lease.owner }))).events,
      ...(io.onEvent === undefined ? {} : { observe: io.onEvent }),
      committed: (events) => (this.started = startedBy(events)),
    });
  }

  static replayed<D extends FlowShape>(flowId: string, definition: D, events: readonly FlowEvent[], io: SessionIo): FlowSession<D> {
    return new FlowSession(definition, replay(flowId, events, definition), io);
  }

  get flowId(): string {
    return this.flow.id;
  }

  /** The replayed state; it follows every event this process appends and every reload. */
  get flow(): FlowInstance {
    return this.writer.flow;
  }

  get version(): number {
    return this.flow.version;
  }

  /**
   * Index of a step whose StepStarted this process committed (the last append it made started it) and
   * whose attempt has not begun: `decide` runs it rather than recording it lost.
   */
  get startedHere(): number | null {
    return this.started;
  }

  /** Aborted when the lease is lost or the flow is cancelled: start nothing more, stop the attempt. */
  get stop(): AbortSignal | undefined {
    return this.lease?.signal;
  }

  /**
   * The one way this session writes: `decide` on the latest state, append what it returns, and on a
   * conflict reload and decide again (see `FlowWriter`). A failed write leaves no step started here.
   */
  async update<T>(decide: Decide<T>): Promise<T> {
    try {
      return await this.writer.update(decide);
    } catch (error) {
      this.started = null;
      throw error;
    }
  }

  /**
   * Appends `events`, decided by this process (holding the lease) on the current state. If the log
   * moved on, core's `afterConflict` says what is left of them: after a cancel, the attempt's outcome
   * alone; otherwise the conflict is the caller's.
   */
  commit(events: readonly FlowEventBody[], options: Omit<Update<void>, 'events' | 'result'> = {}): Promise<void> {
    return this.update((flow, conflict) => {
      if (conflict === null) return Object.assign({}, options, { events, result: undefined });
      const left = afterConflict(flow, events);
      if (left === null) throw conflict;
      return { events: left, ...(options.artifacts === undefined ? {} : { artifacts: options.artifacts }), result: undefined };
    });
  }

  /** Reads the log again, in turn with the updates (others' progress: shards run by other workers). */
  refresh(): Promise<void> {
    return this.writer.refresh();
  }

  /** The attempt of the step started here begins: from now on a Running attempt left by this session is one to recover. */
  beginAttempt(): void {
    this.started = null;
  }
}
