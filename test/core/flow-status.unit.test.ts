import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NewFlowEvent } from '../../src/core/events.js';
import { blockedBy, blockedSteps, canStillRun, failedStep, type FlowInstance, type FlowStatus } from '../../src/core/flow-state.js';
import { initialFlowState, evolve } from '../../src/core/reducer.js';
import {
  flowCompleted,
  flowInitialized,
  nextTs,
  retryScheduled,
  shapeOf,
  shardedStepStarted,
  shardFailed,
  shardFinished,
  shardRetryScheduled,
  shardStarted,
  stepFailed,
  stepFinished,
  stepStarted,
} from '../helpers/events.js';

const FLOW = '00000000-0000-4000-8000-000000000024';

/** The flow's state after each event of `events`, placed at versions 1, 2, … */
function states(events: readonly NewFlowEvent[]): FlowInstance[] {
  let state = initialFlowState(FLOW, shapeOf());
  return events.map((event, i) => (state = evolve(state, { ...event, flowId: FLOW, version: i + 1, seq: i + 1, schemaVersion: 1 })));
}

const statuses = (events: readonly NewFlowEvent[]): FlowStatus[] => states(events).map((s) => s.status);

const cancelled = (): NewFlowEvent => ({ type: 'FlowCancelled', ts: nextTs(), reason: 'wrong input' });

describe('a flow has one status', () => {
  it('pending until an attempt starts, running until the end, completed at the end', () => {
    const events = [flowInitialized(), stepStarted(0), stepFinished(0, []), stepStarted(1), stepFinished(1, []), stepStarted(2), stepFinished(2, []), flowCompleted()];
    expect(statuses(events)).toEqual(['pending', 'running', 'running', 'running', 'running', 'running', 'running', 'completed']);
  });

  it('failed while a step is Failed with no retry; running again once a retry is scheduled', () => {
    const events = [flowInitialized(), stepStarted(0), stepFailed(0), retryScheduled(0, 1), stepStarted(0, 2), stepFinished(0, [], 2), stepStarted(1), stepFailed(1), retryScheduled(1, 1)];
    expect(statuses(events)).toEqual(['pending', 'running', 'failed', 'running', 'running', 'running', 'running', 'failed', 'running']);
  });

  it('stays cancelled when the attempt in flight then fails: its step is Failed, the flow is not', () => {
    const events = [flowInitialized(), stepStarted(0), cancelled(), stepFailed(0)];
    expect(statuses(events)).toEqual(['pending', 'running', 'cancelled', 'cancelled']);
    expect(failedStep(states(events).at(-1) as FlowInstance)?.stepId).toBe('load');
  });

  it('a shard failed for good fails the flow until its retry, whatever its siblings record meanwhile', () => {
    const two = { index: 0, count: 2 };
    const other = { index: 1, count: 2 };
    const events = [
      flowInitialized(),
      shardedStepStarted(0, 2),
      shardStarted(0, two),
      shardStarted(0, other),
      shardFailed(0, two),
      shardFinished(0, other, []),
      shardRetryScheduled(0, two, 1),
    ];
    expect(statuses(events)).toEqual(['pending', 'running', 'running', 'running', 'failed', 'failed', 'running']);
  });
});

describe('canStillRun', () => {
  const STATUSES = ['Pending', 'Running', 'FinishedOk', 'Failed', 'Skipped'] as const;
  /** Random acyclic needs (each step needs some earlier ones, in any order of indexes) and statuses. */
  const graphs = fc.integer({ min: 1, max: 14 }).chain((n) =>
    fc.record({
      order: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
      needs: fc.array(fc.array(fc.nat(n - 1), { maxLength: 3 }), { minLength: n, maxLength: n }),
      statuses: fc.array(fc.constantFrom(...STATUSES), { minLength: n, maxLength: n }),
    }),
  );

  it('is true exactly when a step runs, or a Pending one needs no Failed step directly or indirectly (blockedSteps: blockedBy of every step)', () => {
    fc.assert(
      fc.property(graphs, ({ order, needs, statuses }) => {
        // Step order[k] may only need steps placed before it: a DAG whose indexes are not in data order.
        const rank = new Map(order.map((step, k) => [step, k]));
        const flow = {
          needs: needs.map((list, i) => [...new Set(list.filter((j) => (rank.get(j) ?? 0) < (rank.get(i) ?? 0)))]),
          steps: statuses.map((status) => ({ status })) as unknown as FlowInstance['steps'],
        };
        const blocked = flow.steps.map((_, i) => blockedBy(flow, i).length > 0);
        expect(blockedSteps(flow)).toEqual(blocked);
        const expected = flow.steps.some((s, i) => s.status === 'Running' || (s.status === 'Pending' && !blocked[i]));
        expect(canStillRun(flow)).toBe(expected);
      }),
      { numRuns: 2_000 },
    );
  });
});
