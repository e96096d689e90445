import type { FlowShape } from '../../core/definition.js';
import type { FlowInstance } from '../../core/flow-state.js';
import { replay } from '../../core/reducer.js';
import type { PgEventStore } from './pg-event-store.js';

/**
 * The seeds' `PgFlowRepository`: reads a flow's events ordered by version (each decoded by the codec)
 * and folds them with the one pure reducer, so database and in-memory replay agree by construction.
 */
export class PgFlowRepository {
  constructor(private readonly events: PgEventStore) {}

  async load(flowId: string, definition: FlowShape): Promise<FlowInstance> {
    return replay(flowId, await this.events.list(flowId), definition);
  }
}
