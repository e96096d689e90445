import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  classifyError,
  decide,
  defineFlow,
  flowFingerprint,
  initializedEvent,
  lookAhead,
  PermanentError,
  planFlow,
  recordAttempt,
  replay,
  resolveStepPolicies,
  TransientError,
  type AttemptOutcome,
  type FlowDefinition,
  type FlowEventBody,
  type FlowInstance,
  type RetryPolicyOptions,
  type StepDefinition,
} from '../../src/core/index.js';
import { decideShard, hasRunningAttempt, lostAttemptsOfCancelled, recordShardAttempt } from '../../src/core/decide.js';

const NOW = Date.parse('2026-11-25T12:00:00.000Z');
const NO_BACKOFF: RetryPolicyOptions = { maxRetries: 2, backoff: { kind: 'none' } };
const H = (n: number): string => n.toString(16).padStart(64, '0');

function step(id: string, kind: StepDefinition['kind'], extra: Partial<StepDefinition> = {}): StepDefinition {
  return { id, kind, baseParams: { id }, run: () => ({ outputs: [] }), ...extra };
}

function threeSteps(policy?: RetryPolicyOptions): FlowDefinition {
  return defineFlow('decide', [step('a', 'source'), step('b', 'transform', policy ? { retry: policy } : {}), step('c', 'sink')]);
}

/** A flow after its FlowInitialized (policies recorded), with `bodies` applied. */
function flowOf(def: FlowDefinition, policy: RetryPolicyOptions, bodies: readonly FlowEventBody[] = []): FlowInstance {
  const empty = replay('00000000-0000-4000-8000-000000000001', [], def);
  return lookAhead(empty, [initializedEvent(def, {}, resolveStepPolicies(def, policy)), ...bodies]);
}

const ok = (...outputs: number[]): AttemptOutcome => ({ ok: true, outputs: outputs.map(H), signals: [] });
const failed = (error: Error): AttemptOutcome => ({ ok: false, error: classifyError(error), signals: [] });
const types = (bodies: readonly FlowEventBody[]): string[] => bodies.map((b) => b.type);

describe('decide: what happens next, from the state alone', () => {
  const def = threeSteps();
  const plan = (flow: FlowInstance) => planFlow(def, flow, NO_BACKOFF);

  it('starts the first step of a new flow', () => {
    const flow = flowOf(def, NO_BACKOFF);
    expect(decide(flow, plan(flow), { now: NOW, startedHere: null })).toEqual({
      kind: 'start',
      index: 0,
      events: [{ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }],
    });
  });

  it('runs a step this caller started, and recovers one it did not as a lost Transient attempt', () => {
    const flow = flowOf(def, NO_BACKOFF, [{ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }]);
    expect(decide(flow, plan(flow), { now: NOW, startedHere: 0 })).toEqual({ kind: 'run', index: 0 });
    const lost = decide(flow, plan(flow), { now: NOW, startedHere: null });
    expect(lost).toMatchObject({ kind: 'recover', index: 0, retry: { outcome: 'scheduled' } });
    if (lost.kind !== 'recover') throw new Error('unreachable');
    expect(types(lost.events)).toEqual(['StepFailed', 'RetryScheduled']);
    expect(lost.events[0]).toMatchObject({ errorClass: 'Transient', error: { code: 'WORKER_LOST' }, attempt: 1, retryCount: 0, maxRetries: 2 });
    // The engine's call stack is not the step's: nothing of it (nor its install paths) enters the log.
    expect(lost.events[0]).toMatchObject({ details: { stack_trace: null } });
  });

  it('waits for a retry that is not due, and starts it once it is', () => {
    const backoff: RetryPolicyOptions = { maxRetries: 1, backoff: { kind: 'exponential', baseMs: 5_000 } };
    const running = flowOf(def, backoff, [{ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }]);
    const recorded = recordAttempt(running, planFlow(def, running, backoff), 0, failed(new TransientError('busy')), { now: NOW, chain: true });
    expect(types(recorded.events)).toEqual(['StepFailed', 'RetryScheduled']); // not due: nothing chained
    const waiting = lookAhead(running, recorded.events);
    const p = planFlow(def, waiting, backoff);
    expect(decide(waiting, p, { now: NOW, startedHere: null })).toEqual({ kind: 'wait', index: 0, until: NOW + 5_000 });
    expect(decide(waiting, p, { now: NOW + 5_000, startedHere: null })).toMatchObject({ kind: 'start', index: 0, events: [{ attempt: 2 }] });
  });

  it('completes a flow whose steps all finished, with the flow fingerprint of their fingerprints', () => {
    let flow = flowOf(def, NO_BACKOFF, [{ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }]);
    for (const index of [0, 1]) flow = lookAhead(flow, recordAttempt(flow, plan(flow), index, ok(index), { now: NOW, chain: true }).events);
    const last = recordAttempt(flow, plan(flow), 2, ok(9), { now: NOW, chain: true });
    expect(types(last.events)).toEqual(['StepFinished', 'FlowCompleted']);
    const done = lookAhead(flow, last.events);
    expect(done.flowFingerprint).toBe(flowFingerprint(done.steps.map((s) => s.fingerprint ?? '')));
    expect(decide(done, plan(done), { now: NOW, startedHere: null })).toEqual({ kind: 'ended', status: 'completed' });
  });

  it('ends a failed or cancelled flow', () => {
    const running = flowOf(def, NO_BACKOFF, [{ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }]);
    const broken = lookAhead(running, recordAttempt(running, plan(running), 0, failed(new PermanentError('no')), { now: NOW, chain: true }).events);
    expect(decide(broken, plan(broken), { now: NOW, startedHere: null })).toEqual({ kind: 'ended', status: 'failed' });
    const cancelled = lookAhead(running, [{ type: 'FlowCancelled', reason: null }]);
    expect(decide(cancelled, plan(cancelled), { now: NOW, startedHere: null })).toEqual({ kind: 'ended', status: 'cancelled' });
  });
});

describe('recordAttempt: the events of an outcome', () => {
  const def = threeSteps();
  const running = flowOf(def, NO_BACKOFF, [{ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }]);
  const plan = planFlow(def, running, NO_BACKOFF);

  it('chains the next StepStarted to a success only when asked, after the signals', () => {
    const withSignal: AttemptOutcome = { ok: true, outputs: [H(1)], signals: [{ name: 'progress', data: 1 }] };
    expect(recordAttempt(running, plan, 0, withSignal, { now: NOW, chain: true })).toMatchObject({
      events: [{ type: 'StepSignal', attempt: 1, name: 'progress' }, { type: 'StepFinished', outputs: [H(1)] }, { type: 'StepStarted', stepIndex: 1 }],
      starts: 1,
    });
    expect(types(recordAttempt(running, plan, 0, ok(1), { now: NOW, chain: false }).events)).toEqual(['StepFinished']);
  });

  it('retries a Transient failure at once (chained), never a Permanent one, and refuses past the limit', () => {
    const transient = recordAttempt(running, plan, 0, failed(new TransientError('busy')), { now: NOW, chain: true });
    expect(types(transient.events)).toEqual(['StepFailed', 'RetryScheduled', 'StepStarted']);
    expect(transient).toMatchObject({ starts: 0, retry: { outcome: 'scheduled', event: { retryIndex: 1, delayMs: 0 } } });
    const permanent = recordAttempt(running, plan, 0, failed(new PermanentError('no')), { now: NOW, chain: true });
    expect(permanent).toMatchObject({ retry: null, starts: null });
    expect(types(permanent.events)).toEqual(['StepFailed']);

    const once = { maxRetries: 0, backoff: { kind: 'none' } } as const;
    const strict = flowOf(def, once, [{ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }]);
    expect(recordAttempt(strict, planFlow(def, strict, once), 0, failed(new TransientError('busy')), { now: NOW, chain: true })).toMatchObject({
      retry: { outcome: 'rejected' },
      starts: null,
    });
  });

  it("honours the error's retryAfterMs over the backoff", () => {
    const later = recordAttempt(running, plan, 0, failed(new TransientError('rate limited', { retryAfterMs: 1_500 })), { now: NOW, chain: true });
    expect(later.retry).toMatchObject({ outcome: 'scheduled', event: { delayMs: 1_500, notBefore: new Date(NOW + 1_500).toISOString() } });
    expect(later.starts).toBeNull();
  });

  it('uses the policy recorded at start, not the one the plan would resolve now', () => {
    const recorded = flowOf(def, { maxRetries: 5, backoff: { kind: 'none' } }, [{ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }]);
    const event = recordAttempt(recorded, planFlow(def, recorded, NO_BACKOFF), 0, failed(new TransientError('x')), { now: NOW, chain: false }).events[0];
    expect(event).toMatchObject({ type: 'StepFailed', maxRetries: 5 });
  });
});

describe('decide and recordAttempt driven to the end (property)', () => {
  type Fate = 'ok' | 'transient' | 'permanent' | 'lost';
  const fate = fc.constantFrom<Fate>('ok', 'ok', 'transient', 'lost', 'permanent');

  it('always yields events the reducer accepts, ends completed or failed, and never changes a fingerprint', () => {
    fc.assert(
      fc.property(fc.array(fate, { maxLength: 30 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (fates, maxRetries, chain) => {
        const policy: RetryPolicyOptions = { maxRetries, backoff: { kind: 'none' } };
        const def = threeSteps();
        let flow = flowOf(def, policy);
        const plan = planFlow(def, flow, policy);
        let startedHere: number | null = null;
        let turns = 0;
        for (;;) {
          const decision = decide(flow, plan, { now: NOW, startedHere });
          if (decision.kind === 'ended') break;
          if (decision.kind === 'wait') throw new Error('no backoff: nothing waits');
          if (decision.kind === 'busy') throw new Error('nothing is in flight: nothing is busy');
          if (decision.kind === 'complete' || decision.kind === 'recover') {
            flow = lookAhead(flow, decision.events); // the reducer throws on any event out of place
            startedHere = null;
            continue;
          }
          if (decision.kind === 'start') flow = lookAhead(flow, decision.events);
          const next = fates[turns++] ?? 'ok';
          if (next === 'lost') {
            startedHere = null; // the process died mid-attempt: the next decision recovers it
            continue;
          }
          const outcome = next === 'ok' ? ok(decision.index) : failed(next === 'transient' ? new TransientError('t') : new PermanentError('p'));
          const recorded = recordAttempt(flow, plan, decision.index, outcome, { now: NOW, chain });
          flow = lookAhead(flow, recorded.events);
          startedHere = recorded.starts;
        }
        expect(['completed', 'failed']).toContain(flow.status);
        for (const slot of flow.steps) expect(slot.errors.length).toBeLessThanOrEqual(slot.retryCount + 1);
        for (const slot of flow.steps) expect(slot.retryCount).toBeLessThanOrEqual(maxRetries);
        if (flow.status === 'completed') {
          // The same fingerprints as a run where nothing ever failed.
          let clean = flowOf(def, policy, [{ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }]);
          for (const i of [0, 1, 2]) clean = lookAhead(clean, recordAttempt(clean, plan, i, ok(i), { now: NOW, chain: true }).events);
          expect(flow.steps.map((s) => s.fingerprint)).toEqual(clean.steps.map((s) => s.fingerprint));
          expect(flow.flowFingerprint).toBe(clean.flowFingerprint);
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** A flow whose mapped step `b` (three shards of one item) started shards 0 and 1, then `more`. */
const mapped = defineFlow('decide-shards', [step('a', 'source'), step('b', 'transform', { map: { over: 'items', shardSize: 1 } }), step('c', 'sink')]);
const shardOf3 = (index: number) => ({ index, count: 3 });
function shardsStarted(more: readonly FlowEventBody[]): FlowInstance {
  return flowOf(mapped, NO_BACKOFF, [
    { type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 },
    { type: 'StepFinished', stepIndex: 0, stepId: 'a', attempt: 1, outputs: [H(1)], fingerprint: H(2) },
    { type: 'StepStarted', stepIndex: 1, stepId: 'b', attempt: 1, shardCount: 3 },
    { type: 'StepStarted', stepIndex: 1, stepId: 'b', attempt: 1, shard: shardOf3(0) },
    { type: 'StepStarted', stepIndex: 1, stepId: 'b', attempt: 1, shard: shardOf3(1) },
    ...more,
  ]);
}

describe('a cancelled flow whose mapped step was running', () => {
  const def = mapped;
  const shard = shardOf3;
  // Shard 0 finished, shard 1 runs, shard 2 never started; then the flow was cancelled.
  const flow = shardsStarted([
    { type: 'StepFinished', stepIndex: 1, stepId: 'b', attempt: 1, outputs: [H(3)], fingerprint: H(4), shard: shard(0) },
    { type: 'FlowCancelled', reason: null },
  ]);
  const plan = planFlow(def, flow, NO_BACKOFF);
  const code = (body: FlowEventBody | undefined) => (body?.type === 'StepFailed' ? `${body.error.code}${body.shard ? ` shard ${body.shard.index}` : ''}` : body?.type);

  it('leaves a shard a live process holds to it, and ends the step when its outcome is the last one in flight', () => {
    expect(lostAttemptsOfCancelled(flow, plan, { now: NOW, shardHeld: (index, s) => index === 1 && s === 1 })).toEqual([]);
    const recorded = recordShardAttempt(flow, plan, 1, 1, ok(5), { now: NOW, chain: true });
    expect(recorded.events.map(code)).toEqual(['StepFinished', 'FLOW_CANCELLED']);
    expect(recorded.events[1]).toMatchObject({ stepIndex: 1, errorClass: 'Permanent', attempt: 1 });
    const after = lookAhead(flow, recorded.events);
    expect(after.steps[1]?.status).toBe('Failed');
    expect(hasRunningAttempt(after)).toBe(false);
    expect(lostAttemptsOfCancelled(after, plan, { now: NOW })).toEqual([]);
  });

  it('records a shard nobody holds as lost, which ends the step; a flow not cancelled is left alone', () => {
    const lost = lostAttemptsOfCancelled(flow, plan, { now: NOW });
    expect(lost.map(code)).toEqual(['WORKER_LOST shard 1']);
    expect(hasRunningAttempt(lookAhead(flow, lost))).toBe(false);
    const between = lookAhead(flow, [{ type: 'StepFinished', stepIndex: 1, stepId: 'b', attempt: 1, outputs: [H(5)], fingerprint: H(4), shard: shard(1) }]);
    expect(between.steps[1]?.status).toBe('Running'); // shard 2 never started
    expect(lostAttemptsOfCancelled(between, plan, { now: NOW }).map(code)).toEqual(['FLOW_CANCELLED']);

    const notCancelled = flowOf(def, NO_BACKOFF, [
      { type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 },
      { type: 'StepFinished', stepIndex: 0, stepId: 'a', attempt: 1, outputs: [H(1)], fingerprint: H(2) },
      { type: 'StepStarted', stepIndex: 1, stepId: 'b', attempt: 1, shardCount: 1 },
      { type: 'StepStarted', stepIndex: 1, stepId: 'b', attempt: 1, shard: { index: 0, count: 1 } },
    ]);
    expect(lostAttemptsOfCancelled(notCancelled, plan, { now: NOW })).toEqual([]);
    expect(recordShardAttempt(notCancelled, plan, 1, 0, ok(5), { now: NOW, chain: true }).events.map(code)).toEqual(['StepFinished']);
  });
});

describe('a failed flow whose mapped step was running', () => {
  const shard = shardOf3;
  // Shard 0 runs (its process then dies), shard 1 fails for good, shard 2 never started.
  const flow = shardsStarted([]);
  const plan = planFlow(mapped, flow, NO_BACKOFF);
  const failedFlow = lookAhead(flow, recordShardAttempt(flow, plan, 1, 1, failed(new PermanentError('broken')), { now: NOW, chain: true }).events);

  it("records a dead holder's shard attempt lost with no retry, and starts no shard", () => {
    expect(failedFlow.status).toBe('failed');
    const lost = decideShard(failedFlow, plan, 1, 0, { now: NOW });
    expect(lost).toMatchObject({ kind: 'recover', retry: null, starts: false });
    const events = lost.kind === 'recover' ? lost.events : [];
    expect(types(events)).toEqual(['StepFailed']);
    expect(events[0]).toMatchObject({ errorClass: 'Transient', error: { code: 'WORKER_LOST' }, shard: shard(0) });
    expect(hasRunningAttempt(lookAhead(failedFlow, events))).toBe(false);
    expect(decideShard(failedFlow, plan, 1, 2, { now: NOW })).toEqual({ kind: 'closed' });
    // The same shard in a flow still running is retried at once.
    expect(decideShard(flow, plan, 1, 0, { now: NOW })).toMatchObject({ kind: 'recover', starts: true });
  });

  it("records a live shard's Transient failure with no retry, and starts no shard after it", () => {
    const recorded = recordShardAttempt(failedFlow, plan, 1, 0, failed(new TransientError('busy')), { now: NOW, chain: true });
    expect(recorded).toMatchObject({ retry: null, starts: null });
    expect(types(recorded.events)).toEqual(['StepFailed']);
    const after = lookAhead(failedFlow, recorded.events);
    expect(after.steps[1]?.shards?.[0]?.status).toBe('Failed');
    expect(hasRunningAttempt(after)).toBe(false);
    expect(decideShard(after, plan, 1, 0, { now: NOW })).toEqual({ kind: 'closed' });
    // The same failure in a flow still running is retried, and the retry chained.
    expect(types(recordShardAttempt(flow, plan, 1, 0, failed(new TransientError('busy')), { now: NOW, chain: true }).events)).toEqual(['StepFailed', 'RetryScheduled', 'StepStarted']);
  });
});
