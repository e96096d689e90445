import { CorruptEventError, FlowNotFoundError, FlowNotRunnableError } from '../core/errors.js';
import type { EventOf, FlowEvent } from '../core/events.js';
import type { FlowInstance } from '../core/flow-state.js';
import { replay, shapeFromEvents } from '../core/reducer.js';
import type { FlowStore } from '../stores/flow-store.js';
import { systemClock, type Clock } from './clock.js';
import { FlowWriter } from './flow-writer.js';

/**
 * Cancels a flow: appends `FlowCancelled`, after which no step starts. An attempt in flight sees it at
 * its worker's next heartbeat (its `ctx.signal` aborts) and its outcome is recorded after the
 * cancellation. A completed or already cancelled flow is refused with `FlowNotRunnableError` and
 * nothing is appended. Needs no step code: the flow's shape is read from its log.
 */
export async function cancelFlow(
  store: FlowStore,
  flowId: string,
  reason: string | null = null,
  clock: Clock = systemClock,
): Promise<EventOf<'FlowCancelled'>> {
  return (await cancelFlowReading(store, flowId, reason, clock)).event;
}

/** A cancellation, with the flow's log as it stands after it (read once, for what the caller does next). */
export interface Cancelled {
  event: EventOf<'FlowCancelled'>;
  /** The log, ending with `event`. */
  events: FlowEvent[];
  flow: FlowInstance;
}

/** `cancelFlow`, also returning the log and state after the cancellation, without reading them again. */
export async function cancelFlowReading(store: FlowStore, flowId: string, reason: string | null = null, clock: Clock = systemClock): Promise<Cancelled> {
  let log: FlowEvent[] = [];
  const load = async (): Promise<FlowInstance> => {
    log = await store.list(flowId);
    if (log.length === 0) throw new FlowNotFoundError(flowId);
    const shape = shapeFromEvents(log);
    if (shape === undefined) throw new CorruptEventError(flowId, 1, 'the log does not start with FlowInitialized');
    return replay(flowId, log, shape);
  };
  let stored: FlowEvent[] = [];
  const writer = new FlowWriter(await load(), {
    load,
    now: () => new Date(clock.now()).toISOString(),
    append: async (expectedVersion, events) => (stored = (await store.append(flowId, expectedVersion, events)).events),
  });
  // A worker that records a step meanwhile makes the writer read again and cancel after it.
  await writer.update((flow) => {
    if (flow.status === 'completed') throw new FlowNotRunnableError(flowId, 'completed');
    if (flow.status === 'cancelled') throw new FlowNotRunnableError(flowId, 'cancelled');
    return { events: [{ type: 'FlowCancelled', reason }], result: undefined };
  });
  const event = stored[0] as EventOf<'FlowCancelled'>;
  return { event, events: [...log, event], flow: writer.flow };
}
