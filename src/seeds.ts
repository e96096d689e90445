/**
 * The names chemflow's design documents give to its parts, in one place. Each is an alias of the one
 * API that does the job — nothing here has behaviour of its own — so that code written against those
 * names keeps working while the engine and the stores show one way to do each thing. docs/seeds.md
 * maps every such name to its alias and to the API behind it.
 */
import type { FlowEvent, FlowEventBody, RetryScheduled } from './core/events.js';
import { replay } from './core/reducer.js';
import type { FlowEngine } from './runtime/engine.js';
import type { FlowStore } from './stores/flow-store.js';

/** `FlowRepository.load(flowId, events, definition)`: the replay reducer folding a flow's events. */
export const FlowRepository = { load: replay } as const;

/** `FlowEngine::retry(step_id)`: `engine.scheduleRetry`, the one gate of every manual retry. */
export function retry(engine: FlowEngine, flowId: string, stepId: string, reason?: string): Promise<RetryScheduled> {
  return engine.scheduleRetry(flowId, stepId, reason === undefined ? {} : { reason });
}

/** `events_for(flow_id)`: `store.list`, a flow's events ordered by version. */
export function eventsFor(store: Pick<FlowStore, 'list'>, flowId: string): Promise<FlowEvent[]> {
  return store.list(flowId);
}

/**
 * `append_kind(flow_id, kind)`: appends one event with `store.append`. Without `expectedVersion` it
 * appends at the flow's head as read first — a writer that slips in between still gets
 * `ConcurrencyError`, never an interleaved log.
 */
export async function appendKind(
  store: Pick<FlowStore, 'list' | 'append'>,
  flowId: string,
  body: FlowEventBody,
  options: { expectedVersion?: number; ts?: string } = {},
): Promise<FlowEvent> {
  const expectedVersion = options.expectedVersion ?? (await store.list(flowId)).length;
  const { events } = await store.append(flowId, expectedVersion, [{ ...body, ts: options.ts ?? new Date().toISOString() }]);
  const [event] = events;
  if (event === undefined) throw new Error(`append to flow ${flowId} returned no event`);
  return event;
}

/** `PgEventStore`, `PgErrorStore`, `PgArtifactStore`, `PgFlowRepository`: the parts of the SQL store. */
export { PgArtifactStore } from './stores/sql/pg-artifact-store.js';
/** `insert_step_execution_error(pool, error_data)`: one audit row inside the caller's transaction. */
export { insertStepExecutionError, PgErrorStore } from './stores/sql/pg-error-store.js';
export { PgEventStore } from './stores/sql/pg-event-store.js';
export { PgFlowRepository } from './stores/sql/pg-flow-repository.js';
