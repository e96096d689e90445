import { describe, expect, it } from 'vitest';
import { classifyError, defineFlow, initializedEvent, PermanentError, recordAttempt, TransientError, lookAhead, planFlow, replay, resolveStepPolicies, type FlowDefinition, type FlowEventBody, type AttemptOutcome, type FlowInstance, type RetryPolicyOptions, type StepDefinition } from '../../src/core/index.js';
import { decideBranch } from '../../src/core/decide-branch.js';

const NOW = Date.parse('2026-11-25T12:00:00.000Z');
const NO_BACKOFF: RetryPolicyOptions = { maxRetries: 1, backoff: { kind: 'none' } };
const LATER: RetryPolicyOptions = { maxRetries: 1, backoff: { kind: 'exponential', baseMs: 60_000 } };
const H = (n: number): string => n.toString(16).padStart(64, '0');

const step = (id: string, kind: StepDefinition['kind'], extra: Partial<StepDefinition> = {}): StepDefinition => ({ id, kind, baseParams: { id }, run: () => ({ outputs: [] }), ...extra });

/** Two sources and their join: `left`, `right`, `join` needs both; `gated` has a condition. */
const branches = (): FlowDefinition =>
  defineFlow('branches', [
    step('left', 'source'),
    step('right', 'source'),
    step('join', 'transform', { needs: ['left', 'right'] }),
    step('gated', 'transform', { needs: ['join'], when: { step: 'join', output: null, path: '$.n', op: '>', value: 0 } }),
  ]);

function flowOf(def: FlowDefinition, policy: RetryPolicyOptions, bodies: readonly FlowEventBody[] = []): FlowInstance {
  const empty = replay('00000000-0000-4000-8000-000000000002', [], def);
  return lookAhead(empty, [initializedEvent(def, {}, resolveStepPolicies(def, policy)), ...bodies]);
}
const started = (index: number, stepId: string, attempt = 1): FlowEventBody => ({ type: 'StepStarted', stepIndex: index, stepId, attempt });
const finished = (index: number, stepId: string, flow: FlowInstance): FlowEventBody => ({
  type: 'StepFinished',
  stepIndex: index,
  stepId,
  attempt: flow.steps[index]?.attempts ?? 1,
  outputs: [H(index + 1)],
  fingerprint: H(100 + index),
});

describe('decideBranch: a graph step claimed as a work item', () => {
  const def = branches();

  it('starts a Pending step whose needs are done; closes one whose needs are not, and steps its coordinator starts itself', () => {
    const flow = flowOf(def, NO_BACKOFF);
    const plan = planFlow(def, flow, NO_BACKOFF);
    expect(decideBranch(flow, plan, 1, { now: NOW })).toEqual({ kind: 'start', events: [started(1, 'right')] });
    expect(decideBranch(flow, plan, 2, { now: NOW })).toEqual({ kind: 'closed' }); // join: its needs are not done
    let done = lookAhead(flow, [started(0, 'left'), started(1, 'right')]);
    done = lookAhead(done, [finished(0, 'left', done), finished(1, 'right', done)]);
    expect(decideBranch(done, plan, 2, { now: NOW })).toMatchObject({ kind: 'start' });
    expect(decideBranch(done, plan, 0, { now: NOW })).toEqual({ kind: 'closed' }); // finished
    const joined = lookAhead(done, [started(2, 'join')]);
    const after = lookAhead(joined, [finished(2, 'join', joined)]);
    expect(decideBranch(after, plan, 3, { now: NOW })).toEqual({ kind: 'closed' }); // a condition: the coordinator's
  });

  it('records a Running attempt as lost (its holder is gone) with its retry, started in the same commit when due at once', () => {
    const flow = flowOf(def, NO_BACKOFF, [started(0, 'left')]);
    const decision = decideBranch(flow, planFlow(def, flow, NO_BACKOFF), 0, { now: NOW });
    expect(decision).toMatchObject({ kind: 'recover', starts: true, retry: { outcome: 'scheduled' } });
    const events = decision.kind === 'recover' ? decision.events : [];
    expect(events.map((e) => e.type)).toEqual(['StepFailed', 'RetryScheduled', 'StepStarted']);
    expect(events[0]).toMatchObject({ errorClass: 'Transient', error: { code: 'WORKER_LOST' }, attempt: 1 });
    expect(events[2]).toEqual(started(0, 'left', 2));
  });

  it('leaves a later retry to the queue, and starts nothing on a flow that failed or was cancelled', () => {
    const later = flowOf(def, LATER, [started(0, 'left')]);
    const decision = decideBranch(later, planFlow(def, later, LATER), 0, { now: NOW });
    expect(decision).toMatchObject({ kind: 'recover', starts: false });
    const waiting = lookAhead(later, decision.kind === 'recover' ? decision.events : []);
    const retry = waiting.steps[0]?.notBefore ?? '';
    expect(Date.parse(retry)).toBeGreaterThan(NOW);
    expect(decideBranch(waiting, planFlow(def, waiting, LATER), 0, { now: NOW })).toEqual({ kind: 'wait', until: Date.parse(retry) });

    const cancelled = flowOf(def, NO_BACKOFF, [started(0, 'left'), { type: 'FlowCancelled', reason: null }]);
    const plan = planFlow(def, cancelled, NO_BACKOFF);
    expect(decideBranch(cancelled, plan, 0, { now: NOW })).toEqual({ kind: 'closed' }); // its holder records it (or cancel, once it is gone)
    expect(decideBranch(cancelled, plan, 1, { now: NOW })).toEqual({ kind: 'closed' });
  });

  it("records a live branch's Transient failure with no retry once another branch failed the flow; in a continue flow it is retried", () => {
    const failure = (error: Error): AttemptOutcome => ({ ok: false, error: classifyError(error), signals: [] });
    const both = [started(0, 'left'), started(1, 'right')];
    const failedFlow = (d: FlowDefinition): FlowInstance => {
      const flow = flowOf(d, NO_BACKOFF, both);
      return lookAhead(flow, recordAttempt(flow, planFlow(d, flow, NO_BACKOFF), 1, failure(new PermanentError('broken')), { now: NOW, chain: false }).events);
    };
    const stopped = failedFlow(def);
    expect(stopped.status).toBe('failed');
    const recorded = recordAttempt(stopped, planFlow(def, stopped, NO_BACKOFF), 0, failure(new TransientError('busy')), { now: NOW, chain: true });
    expect(recorded).toMatchObject({ retry: null, starts: null });
    expect(recorded.events.map((e) => e.type)).toEqual(['StepFailed']);

    const going = defineFlow('branches-continue', def.steps, { onFailure: 'continue' });
    const open = failedFlow(going);
    expect(open.status).toBe('running');
    const retried = recordAttempt(open, planFlow(going, open, NO_BACKOFF), 0, failure(new TransientError('busy')), { now: NOW, chain: true });
    expect(retried.retry).toMatchObject({ outcome: 'scheduled' });
  });
});
