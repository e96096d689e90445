import { CorruptEventError, FlowNotFoundError, FlowNotRunnableError, isConcurrencyError } from '../core/errors.js';
import type { EventOf } from '../core/events.js';
import { replay, shapeFromEvents } from '../core/reducer.js';
import type { FlowStore } from '../stores/flow-store.js';
import { systemClock, type Clock } from './clock.js';

/** Appends racing a cancel (a worker recording a step) are few; this bounds the re-reads. */
const MAX_CONFLICTS = 50;

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
  for (let conflicts = 0; ; conflicts++) {
    const events = await store.list(flowId);
    if (events.length === 0) throw new FlowNotFoundError(flowId);
    const shape = shapeFromEvents(events);
    if (shape === undefined) throw new CorruptEventError(flowId, 1, 'the log does not start with FlowInitialized');
    const flow = replay(flowId, events, shape);
    if (flow.completed) throw new FlowNotRunnableError(flowId, 'completed');
    if (flow.cancelled) throw new FlowNotRunnableError(flowId, 'cancelled');
    try {
      const ts = new Date(clock.now()).toISOString();
      const { events: stored } = await store.append(flowId, flow.version, [{ type: 'FlowCancelled', reason, ts }]);
      return stored[0] as EventOf<'FlowCancelled'>;
    } catch (error) {
      // A worker recorded a step meanwhile: read again and cancel after it.
      if (!isConcurrencyError(error) || conflicts >= MAX_CONFLICTS) throw error;
    }
  }
}
