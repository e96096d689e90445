import { describe, expect, it } from 'vitest';
import {
  defineFlow,
  delayFor,
  FlowEngine,
  RetryRejectedError,
  shouldRetry,
  hasRetriesLeft,
  InvalidRetryPolicyError,
  MemoryFlowStore,
  RetryPolicy,
  type RetryPolicyOptions,
} from '../../src/index.js';
import { demoFlow, flakyStep, ManualClock, seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';

const manualOnly: RetryPolicyOptions = { maxRetries: 2, backoff: { kind: 'none' }, retryOn: [] };

describe('RetryPolicy', () => {
  it('retries only while retryCount < maxRetries, and only the classes it names', () => {
    const policy: RetryPolicyOptions = { maxRetries: 2, backoff: { kind: 'none' } };
    expect(hasRetriesLeft(policy, 1)).toBe(true);
    expect(hasRetriesLeft(policy, 2)).toBe(false);
    expect(shouldRetry(policy, 'Transient', 0)).toBe(true);
    expect(shouldRetry(policy, 'Transient', 2)).toBe(false);
    expect(shouldRetry(policy, 'Permanent', 0)).toBe(false);
    expect(shouldRetry(policy, 'Validation', 0)).toBe(false);
    expect(shouldRetry(policy, 'Runtime', 0)).toBe(false);
    expect(shouldRetry({ ...policy, retryOn: ['Runtime'] }, 'Runtime', 0)).toBe(true);
  });

  it('offers the seeds\' method forms: shouldRetry(retryCount), shouldRetry(errorClass, retryCount), delayFor', () => {
    const policy = new RetryPolicy({ maxRetries: 2, backoff: { kind: 'exponential', baseMs: 10 } });
    expect([0, 1, 2].map((n) => policy.shouldRetry(n))).toEqual([true, true, false]);
    expect(policy.shouldRetry('Transient', 1)).toBe(true);
    expect(policy.shouldRetry('Transient', 2)).toBe(false);
    expect(policy.shouldRetry('Permanent', 0)).toBe(false);
    expect(policy.retryOn).toEqual(['Transient']);
    expect([1, 2, 3].map((i) => policy.delayFor(i))).toEqual([10, 20, 40]);
    expect(RetryPolicy.from(policy)).toBe(policy);
    expect(JSON.parse(JSON.stringify(policy))).toEqual({ maxRetries: 2, backoff: { kind: 'exponential', baseMs: 10 }, retryOn: ['Transient'] });
  });

  it('rejects a nonsensical policy with every problem named, also when given to an engine', () => {
    const bad = { maxRetries: -1, backoff: { kind: 'exponential', baseMs: 10, factor: 0.5 }, retryOn: ['Sometimes'] } as unknown as RetryPolicyOptions;
    const thrown = (() => {
      try {
        return new RetryPolicy(bad);
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(InvalidRetryPolicyError);
    expect((thrown as InvalidRetryPolicyError).problems).toEqual([
      'maxRetries must be a non-negative integer, got -1',
      'retryOn holds "Sometimes", not an error class (Transient, Permanent, Validation, Runtime)',
      'backoff.factor must be >= 1, got 0.5',
    ]);
    expect(() => new RetryPolicy({ maxRetries: 1, backoff: { kind: 'linear' } } as unknown as RetryPolicyOptions)).toThrow(
      /backoff.kind must be 'none' or 'exponential', got "linear"/,
    );
    expect(() => new FlowEngine({ store: new MemoryFlowStore(), retryPolicy: bad })).toThrow(InvalidRetryPolicyError);
  });

  it('computes exponential delays, capped, with deterministic jitter', () => {
    const policy: RetryPolicyOptions = { maxRetries: 9, backoff: { kind: 'exponential', baseMs: 100, factor: 3, maxMs: 1000 } };
    expect([1, 2, 3, 4].map((i) => delayFor(policy, i))).toEqual([100, 300, 900, 1000]);
    expect(delayFor({ maxRetries: 1, backoff: { kind: 'none' } }, 1)).toBe(0);
    const jittered: RetryPolicyOptions = { maxRetries: 9, backoff: { kind: 'exponential', baseMs: 1000, jitter: 0.5 } };
    const a = delayFor(jittered, 1, 'flow-a/step');
    expect(a).toBe(delayFor(jittered, 1, 'flow-a/step'));
    expect(a).toBeGreaterThanOrEqual(500);
    expect(a).toBeLessThanOrEqual(1000);
    const spread = new Set(['a', 'b', 'c', 'd', 'e'].map((k) => delayFor(jittered, 1, k)));
    expect(spread.size).toBeGreaterThan(1);
  });
});

describe.each(engineStores)('manual and automatic retry on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('scheduleRetry turns Failed into Pending, increments retryCount, and the flow continues', async () => {
    await withStore(async (store) => {
      const def = demoFlow(['Permanent'], { retry: manualOnly });
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(def);
      expect((await engine.runToEnd(flowId, def)).status).toBe('failed');
      const retry = await engine.scheduleRetry(flowId, 'middle', { reason: 'fixed upstream' });
      expect(retry).toMatchObject({ type: 'RetryScheduled', stepId: 'middle', retryIndex: 1, reason: 'fixed upstream', delayMs: 0 });
      const pending = (await engine.open(flowId, def)).flow;
      expect(pending.steps[2]).toMatchObject({ status: 'Pending', retryCount: 1, attempts: 1 });
      expect(pending.status).not.toBe('failed');
      const done = await engine.runToEnd(flowId, def);
      expect(done.status).toBe('completed');
      expect(done.steps[2]).toMatchObject({ status: 'FinishedOk', retryCount: 1, attempts: 2 });
      expect(engine.retriesScheduled()).toBe(1);
      expect(engine.retriesScheduled(flowId)).toBe(1);
    });
  });

  it('exceeding maxRetries is rejected, counted, and appends nothing', async () => {
    await withStore(async (store) => {
      const def = demoFlow(['Permanent', 'Permanent', 'Permanent'], { retry: manualOnly });
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(def);
      await engine.runToEnd(flowId, def);
      for (let i = 0; i < 2; i++) {
        await engine.scheduleRetry(flowId, 'middle');
        await engine.runToEnd(flowId, def);
      }
      const before = await store.list(flowId);
      const error: unknown = await engine.scheduleRetry(flowId, 'middle').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryRejectedError);
      expect(error).toMatchObject({ reason: 'max_retries_exceeded', stepId: 'middle' });
      expect(await store.list(flowId)).toEqual(before);
      expect(engine.retriesRejected()).toBe(1);
      expect(engine.retriesRejected(flowId)).toBe(1);
      // An explicit, larger limit is the caller's decision.
      await expect(engine.scheduleRetry(flowId, 'middle', { reason: 'one more', maxRetries: 3 })).resolves.toMatchObject({ retryIndex: 3 });
    });
  });

  it('rejects a retry of a step that is not failed, an unknown step, or a completed flow', async () => {
    await withStore(async (store) => {
      const def = demoFlow([]);
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(def);
      await expect(engine.scheduleRetry(flowId, 'middle')).rejects.toMatchObject({ reason: 'step_not_failed' });
      await expect(engine.scheduleRetry(flowId, 'nope')).rejects.toMatchObject({ reason: 'unknown_step' });
      await engine.runToEnd(flowId, def);
      await expect(engine.scheduleRetry(flowId, 'middle')).rejects.toMatchObject({ reason: 'flow_completed' });
      expect(engine.retriesRejected(flowId)).toBe(3);
      expect((await store.list(flowId)).filter((e) => e.type === 'RetryScheduled')).toHaveLength(0);
    });
  });

  it('a middle step that fails twice then succeeds ends with the same fingerprints as a run without failure', async () => {
    await withStore(async (store) => {
      const clock = new ManualClock();
      const policy: RetryPolicyOptions = { maxRetries: 3, backoff: { kind: 'exponential', baseMs: 50 } };
      const clean = demoFlow([]);
      const flaky = demoFlow(['Transient', 'Transient'], { retry: policy });
      const engine = new FlowEngine({ store, clock });
      const a = await engine.runToEnd(await engine.startFlow(clean), clean);
      const b = await engine.runToEnd(await engine.startFlow(flaky), flaky);
      expect(b.status).toBe('completed');
      expect(b.steps[2]).toMatchObject({ attempts: 3, retryCount: 2 });
      expect(b.steps.map((s) => s.fingerprint)).toEqual(a.steps.map((s) => s.fingerprint));
      expect(b.flowFingerprint).toBe(a.flowFingerprint);
      expect(clock.sleeps).toEqual([50, 100]);
    });
  });

  it('changing only the retry policy leaves every fingerprint unchanged; changing a param changes them', async () => {
    await withStore(async (store) => {
      const engine = new FlowEngine({ store, clock: new ManualClock() });
      const run = async (def: ReturnType<typeof demoFlow>) => engine.runToEnd(await engine.startFlow(def), def);
      const base = await run(demoFlow([], { retry: { maxRetries: 1, backoff: { kind: 'none' } } }));
      const otherPolicy = await run(demoFlow([], { retry: { maxRetries: 7, backoff: { kind: 'exponential', baseMs: 5, jitter: 1 } } }));
      const otherEngine = await new FlowEngine({ store, retryPolicy: { maxRetries: 0, backoff: { kind: 'none' } } }).runToEnd(
        await engine.startFlow(demoFlow()),
        demoFlow(),
      );
      const otherParam = await run(demoFlow([], { n: 2 }));
      expect(otherPolicy.flowFingerprint).toBe(base.flowFingerprint);
      expect(otherEngine.flowFingerprint).toBe(base.flowFingerprint);
      expect(otherParam.steps[0]?.fingerprint).not.toBe(base.steps[0]?.fingerprint);
      expect(otherParam.flowFingerprint).not.toBe(base.flowFingerprint);
    });
  });

  it('artifacts come only from StepFinished: a retried step writes its output once; new outputs get new hashes', async () => {
    await withStore(async (store) => {
      const engine = new FlowEngine({ store, clock: new ManualClock() });
      const flaky = demoFlow(['Transient', 'Transient'], { retry: { maxRetries: 3, backoff: { kind: 'none' } } });
      const flow = await engine.runToEnd(await engine.startFlow(flaky), flaky);
      const events = await store.list(flow.id);
      const finished = events.filter((e) => e.type === 'StepFinished');
      expect(finished.map((e) => e.stepId)).toEqual(['seed', 'double', 'middle', 'report']);
      const hashes = finished.flatMap((e) => (e.type === 'StepFinished' ? e.outputs : []));
      expect(new Set(hashes).size).toBe(4);
      const other = demoFlow([], { n: 5 });
      const second = await engine.runToEnd(await engine.startFlow(other), other);
      for (const [i, slot] of second.steps.entries()) expect(slot.outputs).not.toEqual(flow.steps[i]?.outputs);
      const artifacts = await store.getArtifacts([...hashes, ...second.steps.flatMap((s) => s.outputs)]);
      expect(new Set(artifacts.map((a) => a.hash)).size).toBe(8);
    });
  });

  it('retryCount and attempts survive a reload', async () => {
    await withStore(async (store) => {
      const def = defineFlow('reload', [seedStep(), flakyStep('x', ['Transient', 'Permanent'], { retry: { maxRetries: 3, backoff: { kind: 'none' } } }), sinkStep()]);
      const engine = new FlowEngine({ store, clock: new ManualClock() });
      const flowId = await engine.startFlow(def);
      const live = await engine.runToEnd(flowId, def);
      expect(live.steps[1]).toMatchObject({ status: 'Failed', attempts: 2, retryCount: 1 });
      const reloaded = (await new FlowEngine({ store }).open(flowId, def)).flow;
      expect(reloaded).toEqual(live);
    });
  });
});
