import { CorruptEventError } from '../core/errors.js';
import { flowStatus, type FlowStatus } from '../core/flow-state.js';
import { replay, shapeFromEvents } from '../core/reducer.js';
import type { FlowStore, FlowSummary } from '../stores/flow-store.js';

/** `corrupt`: the flow's log holds an event this chemflow cannot decode or replay. */
export type FlowListStatus = FlowStatus | 'corrupt';

/** `chemflow flows --json`: one entry per flow; `problem` only on a `corrupt` one. */
export type FlowListEntry = Pick<FlowSummary, 'flowId' | 'name'> & { status: FlowListStatus; problem?: string } & Omit<FlowSummary, 'flowId' | 'name'>;

/**
 * A flow's listing entry, its status rebuilt from its log. One undecodable event marks that flow
 * `corrupt` (naming the event) instead of failing the listing of every other flow; `undefined` for a
 * flow without a usable `FlowInitialized`.
 */
export async function listEntry(store: FlowStore, summary: FlowSummary): Promise<FlowListEntry | undefined> {
  const { flowId, name, ...rest } = summary;
  try {
    const events = await store.list(flowId);
    const shape = shapeFromEvents(events);
    if (shape === undefined) return undefined;
    return { flowId, name, status: flowStatus(replay(flowId, events, shape)), ...rest };
  } catch (error) {
    if (!(error instanceof CorruptEventError)) throw error;
    return { flowId, name, status: 'corrupt', problem: error.message, ...rest };
  }
}
