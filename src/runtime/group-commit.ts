import type { NewFlowEvent } from '../core/events.js';
import type { AppendOptions, AppendOutcome, AppendRequest, AppendResult, FlowStore } from '../stores/flow-store.js';

export interface GroupCommitOptions {
  /** Most appends sent in one batch; the rest wait for the next one. Default 64. */
  maxBatchSize?: number;
}

/** Counters, for tests and metrics. */
export interface GroupCommitStats {
  batches: number;
  appends: number;
  largestBatch: number;
}

interface Waiting {
  request: AppendRequest;
  resolve: (result: AppendResult) => void;
  reject: (error: Error) => void;
}

const DEFAULT_MAX_BATCH = 64;

/**
 * Group commit in front of a store, as PostgreSQL does for its WAL: at most one batch is in flight;
 * the appends that arrive meanwhile wait and go together, in one `appendBatch` (one transaction, one
 * commit), as soon as it returns. An idle committer sends an append at once — there is no timer and no
 * waiting for company — so a lone flow pays nothing, and concurrent flows share commits exactly as
 * much as they overlap.
 *
 * `append` has `FlowStore.append`'s signature and meaning: its promise resolves only once that append
 * is durable and rejects with that append's own error (a stale version fails its caller alone). A
 * failure of the whole batch (the database gone) rejects every caller in it. One flow's appends are
 * sent in the order they were made, so a caller may even issue the next before the previous settled.
 * The events and options are read when the batch is sent: do not change them until the promise settles.
 */
export class GroupCommitter {
  private readonly maxBatchSize: number;
  private readonly waiting: Waiting[] = [];
  /** The loop that sends batches while appends wait; undefined when idle. */
  private sending: Promise<void> | undefined;
  /** Whether the last batch carried several appends: their callers come back together. */
  private crowded = false;
  /** Set while the event loop has not turned since the last batch was sent (see `sendAll`). */
  private awaitingTurn = false;
  private readonly counters: GroupCommitStats = { batches: 0, appends: 0, largestBatch: 0 };

  constructor(
    private readonly store: Pick<FlowStore, 'append' | 'appendBatch'>,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatchSize = Math.max(1, Math.floor(options.maxBatchSize ?? DEFAULT_MAX_BATCH));
  }

  append(
    flowId: string,
    expectedVersion: number,
    events: readonly NewFlowEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      const request: AppendRequest = options === undefined ? { flowId, expectedVersion, events } : { flowId, expectedVersion, events, options };
      this.waiting.push({ request, resolve, reject });
      this.sending ??= this.sendAll();
    });
  }

  /** Resolves once every append made so far has settled. */
  async drain(): Promise<void> {
    while (this.sending !== undefined) await this.sending;
  }

  get stats(): Readonly<GroupCommitStats> {
    return { ...this.counters };
  }

  private async sendAll(): Promise<void> {
    try {
      for (;;) {
        // After a batch of several, one turn of the event loop (setImmediate, not a timer:
        // microseconds): the callers it woke reach their next append and join this batch instead of
        // trailing into the one after. After a lone append nobody else is coming back: its caller's
        // next append goes at once, and a lone flow pays no turn per step. But never twice without a
        // turn: a store that answers within microtasks (the memory store) would otherwise keep the
        // flow's appends in one endless microtask run, and no timer, heartbeat or I/O would run.
        // Either way the appends made in the same synchronous run as this one are already queued.
        if (this.crowded || this.awaitingTurn) await new Promise<void>((resolve) => setImmediate(resolve));
        else await Promise.resolve();
        const batch = this.waiting.splice(0, this.maxBatchSize);
        if (batch.length === 0) return;
        this.crowded = batch.length > 1;
        this.watchForTurn();
        await this.send(batch);
      }
    } finally {
      this.sending = undefined;
    }
  }

  /** Marks that a batch is going now, until the event loop's next turn. */
  private watchForTurn(): void {
    if (this.awaitingTurn) return;
    this.awaitingTurn = true;
    setImmediate(() => (this.awaitingTurn = false));
  }

  private async send(batch: readonly Waiting[]): Promise<void> {
    this.counters.batches++;
    this.counters.appends += batch.length;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) {
      // Alone: the store's own append, the same statement and path as without a committer.
      const { flowId, expectedVersion, events, options } = only.request;
      await this.store.append(flowId, expectedVersion, events, options).then(only.resolve, (error: unknown) => only.reject(asError(error)));
      return;
    }
    let outcomes: AppendOutcome[];
    try {
      outcomes = await this.store.appendBatch(batch.map((w) => w.request));
    } catch (error) {
      for (const w of batch) w.reject(asError(error));
      return;
    }
    batch.forEach((w, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) w.reject(new Error(`the store returned no outcome for the append to flow ${w.request.flowId}`));
      else if (outcome.ok) w.resolve(outcome.result);
      else w.reject(outcome.error);
    });
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
