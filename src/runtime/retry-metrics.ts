import type { RetryVerdict } from '../core/decide.js';
import type { RetryScheduled } from '../core/events.js';
import type { RetryDecisionNote } from './engine-options.js';

interface Counts {
  scheduled: number;
  rejected: number;
}

/** Flows whose counts an engine keeps (a worker's engine outlives many): the oldest are forgotten. */
const MAX_FLOWS = 10_000;

/** Counts retry decisions of one engine, in total and per flow (the latest `MAX_FLOWS` flows). */
export class RetryMetrics {
  private readonly total: Counts = { scheduled: 0, rejected: 0 };
  private readonly perFlow = new Map<string, Counts>();

  constructor(private readonly listener?: (note: RetryDecisionNote) => void) {}

  /** Counts a decision of the retry gate (none when the class is not retried at all) and tells the listener. */
  note(flowId: string, stepId: string, verdict: RetryVerdict): RetryScheduled | null {
    if (verdict === null) return null;
    this.record(flowId, verdict.outcome);
    this.listener?.({ flowId, stepId, outcome: verdict.outcome });
    return verdict.outcome === 'scheduled' ? verdict.event : null;
  }

  record(flowId: string, outcome: keyof Counts): void {
    this.total[outcome] += 1;
    const counts = this.perFlow.get(flowId) ?? { scheduled: 0, rejected: 0 };
    counts[outcome] += 1;
    this.perFlow.set(flowId, counts);
    if (this.perFlow.size > MAX_FLOWS) this.perFlow.delete(this.perFlow.keys().next().value as string);
  }

  scheduled(flowId?: string): number {
    return flowId === undefined ? this.total.scheduled : (this.perFlow.get(flowId)?.scheduled ?? 0);
  }

  rejected(flowId?: string): number {
    return flowId === undefined ? this.total.rejected : (this.perFlow.get(flowId)?.rejected ?? 0);
  }
}
