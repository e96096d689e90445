import type { QueueStatus } from '../../core/queue-status.js';
import { shardKeyText, type ClaimedShard, type WorkItemKind } from '../shard-queue.js';
import type { ClaimedWork, ClaimWorkOptions, HeldWork, RenewedWork, WorkQueue } from '../work-queue.js';
import { run, type SqlExecutor } from './executor.js';
import { claimedWithEvents, type ClaimRow } from './pg-flow-queue.js';
import { withRetry } from './transient.js';
import { claimWorkQuery, renewWorkQuery } from './work-queries.js';

interface WorkRow extends ClaimRow {
  what: 'flow' | 'item';
  step_index: number | null;
  shard_index: number | null;
  shard_count: number | null;
  kind: WorkItemKind | null;
}

/** A worker's one claim and one heartbeat over the flow queue and the work-item queue, PGlite and PostgreSQL alike. */
export class PgWorkQueue implements WorkQueue {
  constructor(private readonly executor: SqlExecutor) {}

  /** A claim whose reply was lost and was retried only delays what it claimed until the leases expire. */
  async claimWork(owner: string, options: ClaimWorkOptions): Promise<ClaimedWork> {
    if (options.limit <= 0) return { flows: [], items: [] };
    const rows = await withRetry('claim work', () => run<WorkRow>(this.executor, claimWorkQuery(owner, options)));
    const flowRows = rows.filter((r) => r.what === 'flow');
    const items: ClaimedShard[] = rows
      .filter((r) => r.what === 'item')
      .map((r) => ({ flowId: r.flow_id, stepIndex: r.step_index ?? 0, shardIndex: r.shard_index ?? 0, shardCount: r.shard_count ?? 1, kind: r.kind ?? 'shard' }));
    const flows =
      options.events === true
        ? claimedWithEvents(flowRows)
        : [...new Map(flowRows.map((r) => [r.flow_id, { flowId: r.flow_id, status: r.status, version: r.version }])).values()];
    return { flows, items };
  }

  async renewWork(owner: string, held: HeldWork, leaseMs: number): Promise<RenewedWork> {
    if (held.flowIds.length === 0 && held.items.length === 0) return { flows: new Map(), items: new Map() };
    const rows = await withRetry('renew leases', () =>
      run<{ what: 'flow' | 'item'; flow_id: string; step_index: number | null; shard_index: number | null; status: QueueStatus }>(
        this.executor,
        renewWorkQuery(owner, held, leaseMs),
      ),
    );
    const renewed: RenewedWork = { flows: new Map(), items: new Map() };
    for (const r of rows) {
      if (r.what === 'flow') renewed.flows.set(r.flow_id, r.status);
      else renewed.items.set(shardKeyText({ flowId: r.flow_id, stepIndex: r.step_index ?? 0, shardIndex: r.shard_index ?? 0 }), r.status);
    }
    return renewed;
  }
}
