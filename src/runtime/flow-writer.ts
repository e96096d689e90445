import type { StoredArtifact } from '../core/artifact.js';
import { markedOutcomes } from '../core/decide.js';
import { ConcurrencyError } from '../core/errors.js';
import type { FlowEvent, FlowEventBody, NewFlowEvent } from '../core/events.js';
import { failedStep, type FlowInstance } from '../core/flow-state.js';
import type { AppendOptions } from '../stores/flow-store.js';
import type { CacheEntryInput } from '../stores/step-cache-index.js';

/** What one update writes (possibly nothing), and what its caller gets back. */
export interface Update<T> {
  events: readonly FlowEventBody[];
  artifacts?: readonly StoredArtifact[];
  cacheEntry?: CacheEntryInput;
  /** Create the flow leased (its first append only). */
  lease?: AppendOptions['lease'];
  result: T;
}

/**
 * Decides an update on the flow as it stands. `conflict` is set when an append of it was refused
 * because the log moved on (the flow was reloaded since): the function decides again on the new state,
 * or throws to give up (the conflict itself, or a refusal the new state calls for).
 */
export type Decide<T> = (flow: FlowInstance, conflict: ConcurrencyError | null) => Update<T>;

/** Where a writer reads its flow and appends to it. */
export interface WriterIo {
  /** Reads the log and replays it. */
  load(): Promise<FlowInstance>;
  /** The timestamp of an update's events, asked once per update right after its decision. */
  now(): string;
  /** Appends at `expectedVersion`; returns the stored events. */
  append(expectedVersion: number, events: readonly NewFlowEvent[], options: AppendOptions): Promise<readonly FlowEvent[]>;
  /** Told each committed event with the state after it. */
  observe?(event: FlowEvent, flow: FlowInstance): void;
  /** Told every append that committed, with its events (the writer's state already follows them). */
  committed?(events: readonly FlowEvent[]): void;
}

interface Pending {
  decide: Decide<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  reload: boolean;
}

/** Conflicts in a row before an update gives up (each one means another writer progressed). */
export const MAX_CONFLICTS = 50;

/**
 * The one way a flow's log is written: every update is decided (by a function of the state, its rules
 * in core) on the latest state and appended with optimistic concurrency; a conflict with another
 * process's append reloads the log and decides again. This process's updates of one flow are
 * serialized, and those waiting are appended together. So no event is ever appended to a state it was
 * not decided on.
 */
export class FlowWriter {
  private readonly queue: Pending[] = [];
  private draining = false;

  constructor(
    public flow: FlowInstance,
    private readonly io: WriterIo,
  ) {}

  /** Decides with `decide` on the latest state and appends what it returns; resolves with its result. */
  update<T>(decide: Decide<T>): Promise<T> {
    return this.enqueue(decide, false) as Promise<T>;
  }

  /** Reads the log again (others' progress), in turn with the updates. */
  async refresh(): Promise<void> {
    await this.enqueue(() => ({ events: [], result: undefined }), true);
  }

  private enqueue(decide: Decide<unknown>, reload: boolean): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ decide, resolve, reject, reload });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) await this.write(this.queue.splice(0));
    } finally {
      this.draining = false;
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    let pending = batch;
    let conflict: ConcurrencyError | null = null;
    if (pending.some((p) => p.reload) && !(await this.reloadFor(pending))) return;
    for (let conflicts = 0; pending.length > 0; conflicts++) {
      let state = this.flow;
      const events: NewFlowEvent[] = [];
      const states: FlowInstance[] = [];
      const artifacts: StoredArtifact[] = [];
      let cacheEntry: CacheEntryInput | undefined;
      let lease: AppendOptions['lease'];
      const decided: { pending: Pending; result: unknown }[] = [];
      for (const [i, p] of pending.entries()) {
        // An update that fails the flow ends its append: the queue row's status is its last event's, so
        // the outcomes after it go in the next append (which leaves a failed flow failed).
        if (failing(state) && !failing(this.flow)) {
          this.queue.unshift(...pending.slice(i));
          break;
        }
        try {
          const update = p.decide(state, conflict);
          // Stamped after the decision (a retry decided due now is not due after its own timestamp) and
          // before the look-ahead, so the states looked ahead are the ones the stored events replay to:
          // the committed append needs no second fold.
          const ts = this.io.now();
          // Each outcome says whether it leaves the flow failed where its type does not (the queue reads it).
          const marked = markedOutcomes(state, update.events, ts);
          state = marked.after;
          for (const body of marked.events) events.push(Object.assign({}, body, { ts }));
          states.push(...marked.states);
          artifacts.push(...(update.artifacts ?? []));
          cacheEntry = update.cacheEntry ?? cacheEntry;
          lease = update.lease ?? lease;
          decided.push({ pending: p, result: update.result });
        } catch (error) {
          p.reject(error);
        }
      }
      try {
        if (events.length > 0) {
          const options: AppendOptions = {};
          if (artifacts.length > 0) options.artifacts = artifacts;
          if (cacheEntry !== undefined) options.cacheEntry = cacheEntry;
          if (lease !== undefined) options.lease = lease;
          await this.append(events, states, options);
        }
        for (const d of decided) d.pending.resolve(d.result);
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || conflicts >= MAX_CONFLICTS) {
          for (const d of decided) d.pending.reject(error);
          return;
        }
        conflict = error;
        pending = decided.map((d) => d.pending);
        if (!(await this.reloadFor(pending))) return;
      }
    }
  }

  /** Appends `events` at the state's version; `states` are the states after each of them. */
  private async append(events: readonly NewFlowEvent[], states: readonly FlowInstance[], options: AppendOptions): Promise<void> {
    const stored = await this.io.append(this.flow.version, events, options);
    this.flow = states[states.length - 1] ?? this.flow;
    if (this.io.observe !== undefined) stored.forEach((event, i) => this.io.observe?.(event, states[i] ?? this.flow));
    this.io.committed?.(stored);
  }

  /** Reloads the state; if the read fails, the batch fails with it. */
  private async reloadFor(pending: readonly Pending[]): Promise<boolean> {
    try {
      this.flow = await this.io.load();
      return true;
    } catch (error) {
      for (const p of pending) p.reject(error);
      return false;
    }
  }
}

/**
 * Whether an update left the flow failing: a step Failed (in a flow that goes on after a failure, only
 * once the flow itself is failed: until then its other steps' outcomes may share the append).
 */
function failing(flow: FlowInstance): boolean {
  return flow.onFailure === 'continue' ? flow.status === 'failed' : failedStep(flow) !== undefined;
}
