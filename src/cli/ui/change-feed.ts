import type { FlowStore } from '../../stores/flow-store.js';

/** The statuses of flows that may still change. */
const OPEN = ['pending', 'running', 'waiting'] as const;
/** Open flows compared at each look: the newest ones (a listing of the queue's status index). */
const WATCHED = 500;

export type ChangeListener = (flowIds: readonly string[]) => void;

/**
 * Tells the pages which flows changed. While anyone listens it looks at the open flows of the flow
 * queue (their versions and statuses, one indexed query) every `pollMs`, and at once when the store
 * notifies (PostgreSQL LISTEN/NOTIFY); a flow that ends leaves the open set, a retried one enters it,
 * and a new flow changes the newest one.
 */
export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();
  private seen = new Map<string, string>();
  private newest: string | undefined;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => Promise<void>) | null = null;
  private looking = false;
  private again = false;

  constructor(
    private readonly store: FlowStore,
    private readonly pollMs: number,
  ) {}

  /** Calls `listener` with the ids of the flows that changed; returns the function that stops it. */
  listen(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.stop();
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.stop();
  }

  private start(): void {
    void this.look();
    this.timer = setInterval(() => void this.look(), this.pollMs);
    this.timer.unref();
    this.store.subscribe(() => void this.look()).then(
      (unsubscribe) => {
        if (this.timer === null) void unsubscribe();
        else this.unsubscribe = unsubscribe;
      },
      () => undefined, // polling alone still sees every change
    );
  }

  private async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.().catch(() => undefined);
  }

  /** One look at the queue; a look asked for while one runs runs right after it. */
  private async look(): Promise<void> {
    if (this.looking) {
      this.again = true;
      return;
    }
    this.looking = true;
    try {
      do {
        this.again = false;
        await this.compare();
      } while (this.again && this.listeners.size > 0);
    } catch {
      // The database is away: the next look tries again.
    } finally {
      this.looking = false;
    }
  }

  private async compare(): Promise<void> {
    const [open, newest] = await Promise.all([this.store.listFlows({ status: OPEN, limit: WATCHED }), this.store.listFlows({ limit: 1 })]);
    const now = new Map(open.map((f) => [f.flowId, `${f.version}:${f.status}`]));
    const changed = new Set<string>();
    for (const [id, state] of now) if (this.seen.get(id) !== state) changed.add(id);
    for (const id of this.seen.keys()) if (!now.has(id)) changed.add(id);
    const first = newest[0];
    if (first !== undefined && this.newest !== undefined && first.flowId !== this.newest) changed.add(first.flowId);
    const initial = this.newest === undefined && this.seen.size === 0;
    this.seen = now;
    this.newest = first?.flowId ?? '';
    if (initial || changed.size === 0) return;
    const ids = [...changed];
    for (const listener of this.listeners) listener(ids);
  }
}
