import { hasRunningAttempt, lostAttemptsOfCancelled } from '../core/decide.js';
import type { FlowEventBody } from '../core/events.js';
import type { FlowPlan } from '../core/flow-plan.js';
import type { FlowStore } from '../stores/flow-store.js';
import type { Clock } from './clock.js';
import type { FlowSession } from './flow-session.js';
import { isDeadLocalOwner } from './lease-keeper.js';

/**
 * For a cancelled flow whose lease the caller holds: records what nobody else will (core's
 * `lostAttemptsOfCancelled`): a Running step's attempt that no live process holds as a work item, each Running shard that no live process holds
 * (its lease is free or expired, or its holder is a process of this machine that is gone), and a
 * mapped step left Running with no shard running. A shard a live process holds is left to it: its
 * outcome is recorded at that process's next heartbeat, and ends the step if it is the last one.
 * Decided on the latest log (another process may record a shard meanwhile). Returns what was appended.
 */
export async function recordLostOfCancelled(session: Pick<FlowSession, 'flow' | 'update'>, plan: FlowPlan, store: FlowStore, clock: Clock): Promise<FlowEventBody[]> {
  if (session.flow.status !== 'cancelled' || !hasRunningAttempt(session.flow)) return [];
  const rows = await store.listShards(session.flow.id);
  const live = rows.filter((r) => r.holder !== null && !isDeadLocalOwner(r.holder));
  const held = new Set(live.map((r) => (r.kind === 'step' ? `${r.stepIndex}` : `${r.stepIndex}/${r.shardIndex}`)));
  return session.update((flow) => {
    const events = lostAttemptsOfCancelled(flow, plan, {
      now: clock.now(),
      shardHeld: (index, shard) => held.has(`${index}/${shard}`),
      stepHeld: (index) => held.has(`${index}`),
    });
    return { events, result: events };
  });
}
