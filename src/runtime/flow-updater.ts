import type { StoredArtifact } from '../core/artifact.js';
import { lookAhead } from '../core/decide.js';
import { ConcurrencyError, FlowLeasedError } from '../core/errors.js';
import type { FlowEventBody } from '../core/events.js';
import type { FlowInstance } from '../core/flow-state.js';
import type { CacheEntryInput } from '../stores/step-cache-index.js';
import type { FlowSession } from './flow-session.js';

/** What one update commits (possibly nothing), and what its caller gets back. */
export interface Update<T> {
  events: readonly FlowEventBody[];
  artifacts?: readonly StoredArtifact[];
  cacheEntry?: CacheEntryInput;
  result: T;
}

interface Pending {
  make: (flow: FlowInstance) => Update<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  reload: boolean;
}

/** Conflicts with other processes in a row before an update gives up (each one means they progressed). */
const MAX_CONFLICTS = 50;

/**
 * Commits to a flow that several writers change at once: the shards of a sharded step, run by this
 * process and by other workers. Each update is decided (by a pure `make`, from core) on the latest
 * state and committed; the updates of this process are serialized and those waiting are committed
 * together in one append; a conflict with another process's append reloads the log and decides again.
 * So no update is ever applied to a state it was not decided on.
 */
export class FlowUpdater {
  private readonly queue: Pending[] = [];
  private draining = false;

  constructor(private readonly session: FlowSession) {}

  get flow(): FlowInstance {
    return this.session.flow;
  }

  /** Decides with `make` on the latest state and commits what it returns; resolves with its result. */
  update<T>(make: (flow: FlowInstance) => Update<T>): Promise<T> {
    return this.enqueue(make, false) as Promise<T>;
  }

  /** Reads the log again (others' progress), in turn with the updates. */
  async refresh(): Promise<void> {
    await this.enqueue(() => ({ events: [], result: undefined }), true);
  }

  private enqueue(make: (flow: FlowInstance) => Update<unknown>, reload: boolean): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ make, resolve, reject, reload });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) await this.commit(this.queue.splice(0));
    } finally {
      this.draining = false;
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    let pending = batch;
    if (pending.some((p) => p.reload) && !(await this.reloadFor(pending))) return;
    for (let conflicts = 0; pending.length > 0; conflicts++) {
      let state = this.session.flow;
      const events: FlowEventBody[] = [];
      const artifacts: StoredArtifact[] = [];
      let cacheEntry: CacheEntryInput | undefined;
      const decided: { pending: Pending; result: unknown }[] = [];
      for (const [i, p] of pending.entries()) {
        // An update that fails the flow ends its append: the queue row's status is its last event's, so
        // the outcomes after it go in the next append (which leaves a failed flow failed).
        if (state.failed && !this.session.flow.failed) {
          this.queue.unshift(...pending.slice(i));
          break;
        }
        try {
          const update = p.make(state);
          state = lookAhead(state, update.events);
          events.push(...update.events);
          artifacts.push(...(update.artifacts ?? []));
          cacheEntry = update.cacheEntry ?? cacheEntry;
          decided.push({ pending: p, result: update.result });
        } catch (error) {
          p.reject(error);
        }
      }
      try {
        if (events.length > 0)
          await this.session.appendAsIs(events, { ...(artifacts.length > 0 ? { artifacts } : {}), ...(cacheEntry === undefined ? {} : { cacheEntry }) });
        for (const d of decided) d.pending.resolve(d.result);
        return;
      } catch (error) {
        const retry = error instanceof ConcurrencyError && !(error instanceof FlowLeasedError) && conflicts < MAX_CONFLICTS;
        if (!retry) {
          for (const d of decided) d.pending.reject(error);
          return;
        }
        pending = decided.map((d) => d.pending);
        if (!(await this.reloadFor(pending))) return;
      }
    }
  }

  /** Reloads the session; if the read fails, the batch fails with it. */
  private async reloadFor(pending: readonly Pending[]): Promise<boolean> {
    try {
      await this.session.reload();
      return true;
    } catch (error) {
      for (const p of pending) p.reject(error);
      return false;
    }
  }
}
