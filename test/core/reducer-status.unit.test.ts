// The reducer keeps a flow's status step by step (only the step an event touches is looked at when
// nothing had failed); it must be what a walk of every step gives, after every event of any history.
import { describe, expect, it } from 'vitest';
import { CorruptEventError, openFlowStatus, replay, shapeFromEvents, type FlowEvent, type FlowInstance } from '../../src/core/index.js';
import { scenario } from '../support/queue-scenarios.js';

describe('the flow status the reducer keeps', () => {
  it('equals the walk of every step after every event of random histories (lists, graphs, shards, retries, failures, continue)', () => {
    let compared = 0;
    for (const seed of [1, 2, 3, 20261205]) {
      for (const plan of scenario(seed, 24).flows) {
        const events: FlowEvent[] = plan.batches.flat().map((e, i) => ({ ...e, flowId: 'f', version: i + 1, seq: i + 1, schemaVersion: 1 }));
        const shape = shapeFromEvents(events);
        if (shape === undefined) continue;
        for (let end = 1; end <= events.length; end++) {
          let flow: FlowInstance;
          try {
            flow = replay('f', events.slice(0, end), shape);
          } catch (error) {
            // The queue's generators also write histories only the queue accepts (its rules see no definition).
            if (error instanceof CorruptEventError) break;
            throw error;
          }
          if (flow.status === 'cancelled' || flow.status === 'completed') break;
          expect({ seed, flow: plan.flowId, end, status: flow.status }).toEqual({ seed, flow: plan.flowId, end, status: openFlowStatus(flow) });
          compared++;
        }
      }
    }
    // The histories reach failed flows and retried ones, not only running lists.
    expect(compared).toBeGreaterThan(500);
  });
});
