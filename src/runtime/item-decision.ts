import type { BranchDecision } from '../core/decide-branch.js';
import type { ShardDecision } from '../core/decide.js';
import type { ShardDue } from '../stores/shard-queue.js';
import type { LeaseKeeper, WorkItemLease } from './lease-keeper.js';

/** How the run of a claimed work item (a shard or a graph step) ends, once it ran or was given back. */
export type ItemRunEnd = 'finished' | 'failed' | 'waiting' | 'closed' | 'lost';

/**
 * Acts on the decision taken for a claimed work item before any attempt of it runs: `run` when an
 * attempt is to run now (started, or a lost one's retry started at once); otherwise the item is given
 * back, due again at a later retry or closed, and what that means is returned.
 */
export async function afterItemDecision(leases: LeaseKeeper, lease: WorkItemLease, decision: ShardDecision | BranchDecision): Promise<ItemRunEnd | 'run'> {
  switch (decision.kind) {
    case 'start':
      return 'run';
    case 'recover': {
      if (decision.starts) return 'run';
      const retry = decision.retry?.outcome === 'scheduled' ? decision.retry.event : null;
      await leases.releaseItem(lease, retry === null ? 'closed' : ({ at: Date.parse(retry.notBefore) } satisfies ShardDue));
      return 'failed';
    }
    case 'wait':
      await leases.releaseItem(lease, { at: decision.until });
      return 'waiting';
    case 'closed':
      await leases.releaseItem(lease, 'closed');
      return 'closed';
  }
}
