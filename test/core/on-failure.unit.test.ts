import { describe, expect, it } from 'vitest';
import {
  blockedBy,
  classifyError,
  decide,
  defineFlow,
  initializedEvent,
  lookAhead,
  PermanentError,
  planFlow,
  recordAttempt,
  rebuiltQueueStatus,
  replay,
  resolveStepPolicies,
  shapeFromEvents,
  withFlowOutcomes,
  type AttemptOutcome,
  type FlowDefinition,
  type FlowEvent,
  type FlowEventBody,
  type FlowInstance,
  type OnFailure,
  type RetryPolicyOptions,
  type StepDefinition,
} from '../../src/core/index.js';
import { decideBranch } from '../../src/core/decide-branch.js';
import { continueFlowEvents, Rng } from '../support/queue-scenarios.js';

const NOW = Date.parse('2026-12-05T12:00:00.000Z');
const POLICY: RetryPolicyOptions = { maxRetries: 0, backoff: { kind: 'none' } };
const H = (n: number): string => n.toString(16).padStart(64, '0');

function step(id: string, kind: StepDefinition['kind'], needs?: string[]): StepDefinition {
  return { id, kind, baseParams: { id }, run: () => ({ outputs: [] }), ...(needs === undefined ? {} : { needs }) };
}

/** `root` → `bad` → `afterBad`; `root` → `good`; `join` needs `afterBad` and `good`. */
function fan(onFailure?: OnFailure): FlowDefinition {
  return defineFlow(
    'fan',
    [step('root', 'source'), step('bad', 'transform', ['root']), step('afterBad', 'transform', ['bad']), step('good', 'transform', ['root']), step('join', 'sink', ['afterBad', 'good'])],
    onFailure === undefined ? {} : { onFailure },
  );
}

function flowOf(def: FlowDefinition, bodies: readonly FlowEventBody[] = []): FlowInstance {
  const empty = replay('00000000-0000-4000-8000-000000000002', [], def);
  return lookAhead(empty, withFlowOutcomes(empty, [initializedEvent(def, {}, resolveStepPolicies(def, POLICY)), ...bodies]));
}

const ok = (...outputs: number[]): AttemptOutcome => ({ ok: true, outputs: outputs.map(H), signals: [] });
const permanent: AttemptOutcome = { ok: false, error: classifyError(new PermanentError('broken')), signals: [] };

/** Runs `root`, starts `bad` and `good` together, then records `bad`'s failure for good: the events as the writer appends them. */
function badFailedWhileGoodRuns(def: FlowDefinition): { flow: FlowInstance; failure: FlowEventBody[] } {
  const plan = planFlow(def, flowOf(def), POLICY);
  let flow = flowOf(def, [{ type: 'StepStarted', stepIndex: 0, stepId: 'root', attempt: 1 }]);
  flow = lookAhead(flow, recordAttempt(flow, plan, 0, ok(1), { now: NOW, chain: false }).events);
  flow = lookAhead(flow, [
    { type: 'StepStarted', stepIndex: 1, stepId: 'bad', attempt: 1 },
    { type: 'StepStarted', stepIndex: 3, stepId: 'good', attempt: 1 },
  ]);
  const failure = withFlowOutcomes(flow, recordAttempt(flow, plan, 1, permanent, { now: NOW, chain: false }).events);
  return { flow: lookAhead(flow, failure), failure };
}

describe('onFailure: the definition', () => {
  it('hashes a flow without the option, or with stop, as before; continue changes the hash and is recorded', () => {
    expect(fan('stop').definitionHash).toBe(fan().definitionHash);
    expect(fan('continue').definitionHash).not.toBe(fan().definitionHash);
    expect(fan().onFailure).toBe('stop');
    expect(initializedEvent(fan(), {}, [])).not.toHaveProperty('onFailure');
    expect(initializedEvent(fan('continue'), {}, [])).toMatchObject({ onFailure: 'continue' });
    expect(() => defineFlow('x', [step('a', 'source')], { onFailure: 'skip' as OnFailure })).toThrow(/invalid onFailure "skip": use stop or continue/);
  });
});

describe('onFailure: decide and the reducer', () => {
  it('stop: a step failed for good fails the flow at once; nothing new starts', () => {
    const def = fan();
    const { flow, failure } = badFailedWhileGoodRuns(def);
    expect(failure.map((e) => e.type)).toEqual(['StepFailed']);
    expect(failure[0]).not.toHaveProperty('flowFailed');
    expect(flow.status).toBe('failed');
    expect(decide(flow, planFlow(def, flow, POLICY), { now: NOW, startedHere: null, inFlight: new Set([3]) })).toEqual({ kind: 'ended', status: 'failed' });
  });

  it('continue: the flow goes on while a step runs or may start; its dependents are blocked; it fails with the last step that could run', () => {
    const def = fan('continue');
    const plan = planFlow(def, flowOf(def), POLICY);
    const { flow, failure } = badFailedWhileGoodRuns(def);
    expect(failure).toMatchObject([{ type: 'StepFailed', stepId: 'bad', flowFailed: false }]);
    expect(flow.onFailure).toBe('continue');
    expect(flow.status).toBe('running');
    expect([2, 4].map((i) => blockedBy(flow, i))).toEqual([[1], [1]]);
    expect(blockedBy(flow, 3)).toEqual([]);
    // Nothing else may start (join needs afterBad): the coordinator waits for `good`.
    expect(decide(flow, plan, { now: NOW, startedHere: null, inFlight: new Set([3]) })).toEqual({ kind: 'busy' });
    // Another worker's item of `good` is still its to run; a blocked step is never started as an item.
    expect(decideBranch(flow, plan, 2, { now: NOW }).kind).toBe('closed');
    const finished = withFlowOutcomes(flow, recordAttempt(flow, plan, 3, ok(2), { now: NOW, chain: true }).events);
    expect(finished).toMatchObject([{ type: 'StepFinished', stepId: 'good', flowFailed: true }]);
    const end = lookAhead(flow, finished);
    expect(end.status).toBe('failed');
    expect(decide(end, plan, { now: NOW, startedHere: null })).toEqual({ kind: 'ended', status: 'failed' });
  });

  it('continue: a step failed while an independent one has yet to start leaves the flow open; decide starts that one', () => {
    const def = fan('continue');
    const plan = planFlow(def, flowOf(def), POLICY);
    let flow = flowOf(def, [{ type: 'StepStarted', stepIndex: 0, stepId: 'root', attempt: 1 }]);
    flow = lookAhead(flow, recordAttempt(flow, plan, 0, ok(1), { now: NOW, chain: false }).events);
    flow = lookAhead(flow, [{ type: 'StepStarted', stepIndex: 1, stepId: 'bad', attempt: 1 }]);
    const recorded = recordAttempt(flow, plan, 1, permanent, { now: NOW, chain: true });
    const failure = withFlowOutcomes(flow, recorded.events);
    // A failure for good chains nothing; decide, and a worker holding `good`'s item, start `good` next.
    expect(failure).toMatchObject([{ type: 'StepFailed', stepId: 'bad', flowFailed: false }]);
    const after = lookAhead(flow, failure);
    expect(after.status).toBe('running');
    expect(decide(after, plan, { now: NOW, startedHere: null })).toMatchObject({ kind: 'start', index: 3 });
    expect(decideBranch(after, plan, 3, { now: NOW })).toMatchObject({ kind: 'start' });
  });

  it('continue: a retry of the failed step opens the flow again, and its dependents run after it', () => {
    const def = fan('continue');
    const plan = planFlow(def, flowOf(def), POLICY);
    const { flow } = badFailedWhileGoodRuns(def);
    const end = lookAhead(flow, withFlowOutcomes(flow, recordAttempt(flow, plan, 3, ok(2), { now: NOW, chain: false }).events));
    const retried = lookAhead(end, [{ type: 'RetryScheduled', stepIndex: 1, stepId: 'bad', retryIndex: 1, reason: 'operator', delayMs: 0, notBefore: new Date(NOW).toISOString() }]);
    expect(retried.status).toBe('running');
    expect(blockedBy(retried, 2)).toEqual([]);
    expect(decide(retried, plan, { now: NOW, startedHere: null })).toMatchObject({ kind: 'start', index: 1 });
  });
});

describe('onFailure: continue: the queue rules and the reducer agree', () => {
  it('after every event of random histories, the queue status the log gives is the one the reducer keeps', () => {
    const rng = new Rng(20261205);
    for (let n = 0; n < 300; n++) {
      const events: FlowEvent[] = continueFlowEvents(rng, 'going').map((e, i) => ({ ...e, flowId: 'f', version: i + 1, seq: i + 1, schemaVersion: 1 }));
      // A cancel's rules are every flow's (and the generator's outcomes after one are not all a reducer's).
      if (events.some((e) => e.type === 'FlowCancelled')) continue;
      const shape = shapeFromEvents(events);
      if (shape === undefined) throw new Error('no FlowInitialized');
      // The engine's writer marks the same outcomes as the history does.
      const mark = (e: FlowEventBody) => ('flowFailed' in e ? e.flowFailed : undefined);
      expect(withFlowOutcomes(replay('f', [], shape), events).map(mark)).toEqual(events.map(mark));
      for (let end = 1; end <= events.length; end++) {
        const prefix = events.slice(0, end);
        const status = replay('f', prefix, shape).status;
        const queue = rebuiltQueueStatus(prefix, prefix.some((e) => e.type === 'FlowCancelled'));
        const open = queue === 'pending' || queue === 'running' || queue === 'waiting';
        expect({ n, end, last: prefix.at(-1)?.type, queue: open ? 'open' : queue }).toEqual({ n, end, last: prefix.at(-1)?.type, queue: status === 'pending' || status === 'running' ? 'open' : status });
      }
    }
  });
});
