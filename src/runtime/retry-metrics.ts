interface Counts {
  scheduled: number;
  rejected: number;
}

/** Counts retry decisions of one engine, in total and per flow (the seed's internal metrics). */
export class RetryMetrics {
  private readonly total: Counts = { scheduled: 0, rejected: 0 };
  private readonly perFlow = new Map<string, Counts>();

  record(flowId: string, outcome: keyof Counts): void {
    this.total[outcome] += 1;
    const counts = this.perFlow.get(flowId) ?? { scheduled: 0, rejected: 0 };
    counts[outcome] += 1;
    this.perFlow.set(flowId, counts);
  }

  scheduled(flowId?: string): number {
    return flowId === undefined ? this.total.scheduled : (this.perFlow.get(flowId)?.scheduled ?? 0);
  }

  rejected(flowId?: string): number {
    return flowId === undefined ? this.total.rejected : (this.perFlow.get(flowId)?.rejected ?? 0);
  }
}
