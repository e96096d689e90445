import type { Clock } from './clock.js';

/** Something renewed on each heartbeat: the leases a process's `LeaseKeeper` holds. */
export interface Beating {
  heartbeat(): Promise<void>;
}

/**
 * A process's one heartbeat: one timer, every `periodMs` of its clock, that renews every lease the
 * process holds (flows, and the work items of any flow: shards and graph steps) with one statement
 * (`LeaseKeeper`). It runs while anything is held and stops when nothing is.
 */
export class Heartbeat {
  private readonly members = new Set<Beating>();
  private stopTimer: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    readonly periodMs: number,
  ) {}

  /** `member` holds something now: beat for it too (the timer starts with the first). */
  join(member: Beating): void {
    this.members.add(member);
    this.stopTimer ??= this.clock.every(this.periodMs, () => void this.beat());
  }

  /** `member` holds nothing any more; the timer stops with the last. */
  leave(member: Beating): void {
    this.members.delete(member);
    if (this.members.size > 0) return;
    this.stopTimer?.();
    this.stopTimer = null;
  }

  /** One heartbeat now: every member renews what it holds, at the same moment. */
  async beat(): Promise<void> {
    await Promise.all([...this.members].map((m) => m.heartbeat()));
  }

  /** Whether the timer runs. */
  get beating(): boolean {
    return this.stopTimer !== null;
  }
}
