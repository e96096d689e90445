import type { StoredArtifact } from '../core/artifact.js';
import type { FlowDefinition, FlowShape } from '../core/definition.js';
import { ConcurrencyError, FlowLeasedError } from '../core/errors.js';
import type { FlowEvent, FlowEventBody, NewFlowEvent } from '../core/events.js';
import type { FlowPlan } from '../core/flow-plan.js';
import type { FlowInstance } from '../core/flow-state.js';
import { evolve, replay } from '../core/reducer.js';
import type { AppendOptions, AppendResult, FlowStore } from '../stores/flow-store.js';
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

/** A handle plus what only the process driving it knows. */
export class FlowSession<D extends FlowShape = FlowDefinition> implements FlowHandle<D> {
  /** Index of a step whose StepStarted this process committed and has not yet run. */
  startedHere: number | null = null;
  /** The lease this session runs under, once it holds one. */
  lease: FlowLease | undefined;
  /** What `decide` needs of the definition and the recorded policies, computed once. */
  plan: FlowPlan | undefined;
  /** Outputs of finished steps already in memory, by hash: saves a read per step. */
  artifacts = new Map<string, StoredArtifact>();

  constructor(
    readonly definition: D,
    public flow: FlowInstance,
    private readonly io: SessionIo,
  ) {}

  static replayed<D extends FlowShape>(flowId: string, definition: D, events: readonly FlowEvent[], io: SessionIo): FlowSession<D> {
    return new FlowSession(definition, replay(flowId, events, definition), io);
  }

  get flowId(): string {
    return this.flow.id;
  }

  get version(): number {
    return this.flow.version;
  }

  /** Aborted when the lease is lost or the flow is cancelled: start nothing more, stop the attempt. */
  get stop(): AbortSignal | undefined {
    return this.lease?.signal;
  }

  /**
   * Appends `bodies` at this session's version. If the log moved on because the flow was cancelled
   * meanwhile, only the outcome of the attempt in flight (its signals, StepFinished or StepFailed) is
   * recorded after the FlowCancelled and nothing is started; any other conflict is the caller's.
   */
  async commit(bodies: readonly FlowEventBody[], options: AppendOptions = {}): Promise<void> {
    try {
      await this.append(bodies, options);
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || error instanceof FlowLeasedError) throw error;
      const current = replay(this.flowId, await this.io.store.list(this.flowId), this.definition);
      if (!current.cancelled) throw error;
      this.flow = current;
      this.startedHere = null;
      const outcome = bodies.filter((b) => b.type === 'StepSignal' || b.type === 'StepFinished' || b.type === 'StepFailed');
      const attempt = outcome[0];
      const inFlight = attempt === undefined ? undefined : current.steps[attempt.stepIndex];
      if (attempt !== undefined && inFlight?.status === 'Running' && inFlight.attempts === attempt.attempt)
        await this.append(outcome, options.artifacts ? { artifacts: options.artifacts } : {});
    }
  }

  /** Reads the log again, for the state other processes' appends moved on (shards run by other workers). */
  async reload(): Promise<void> {
    this.flow = replay(this.flowId, await this.io.store.list(this.flowId), this.definition);
  }

  /** Appends `bodies` at this session's version as they are: a conflict is the caller's (see `FlowUpdater`). */
  appendAsIs(bodies: readonly FlowEventBody[], options: AppendOptions = {}): Promise<void> {
    return this.append(bodies, options);
  }

  private async append(bodies: readonly FlowEventBody[], options: AppendOptions): Promise<void> {
    const ts = new Date(this.io.clock.now()).toISOString();
    const events: NewFlowEvent[] = bodies.map((body) => ({ ...body, ts }));
    const result = await this.io.append(this.flowId, this.flow.version, events, options);
    for (const event of result.events) {
      this.flow = evolve(this.flow, event);
      this.io.onEvent?.(event, this.flow);
    }
  }
}
