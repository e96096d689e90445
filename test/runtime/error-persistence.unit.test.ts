import { describe, expect, it } from 'vitest';
import {
  defineFlow,
  FlowEngine,
  FlowRepository,
  retry,
  TransientError,
  type FlowDefinition,
  type FlowStore,
  type RetryPolicyOptions,
  type StepDefinition,
} from '../../src/index.js';
import { flakyStep, ManualClock, seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';
import { untilLeaseExpired } from '../support/wait-until.js';

const policy: RetryPolicyOptions = { maxRetries: 3, backoff: { kind: 'exponential', baseMs: 10 } };

/** Failures across several steps and attempts: a Transient pair, a Runtime stop, then a manual retry. */
function timelineFlow(): FlowDefinition {
  return defineFlow('timeline', [
    seedStep(),
    flakyStep('a', ['Transient', 'Transient'], { retry: policy }),
    flakyStep('b', ['Transient', 'Runtime'], { retry: policy }),
    sinkStep(),
  ]);
}

async function runTimeline(store: FlowStore, flowId: string) {
  const def = timelineFlow();
  const engine = new FlowEngine({ store, clock: new ManualClock() });
  await engine.startFlow(def, { flowId });
  const stopped = await engine.runToEnd(flowId, def);
  await engine.scheduleRetry(flowId, 'b', { reason: 'operator: fixed' });
  const done = await engine.runToEnd(flowId, def);
  return { stopped, done, def };
}

describe.each(engineStores)('error persistence on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it("engine.errorStore reads what emitStepFailed wrote; engine.retry is scheduleRetry", async () => {
    await withStore(async (store) => {
      const def = defineFlow('seed-names', [seedStep(), flakyStep('a', ['Permanent'], { retry: policy }), sinkStep()]);
      const engine = new FlowEngine({ store, clock: new ManualClock() });
      const flowId = await engine.startFlow(def);
      expect((await engine.runToEnd(flowId, def)).status).toBe('failed');
      expect((await engine.errorStore.getErrorTimeline(flowId, 'a')).map((e) => [e.attemptNumber, e.errorClass])).toEqual([[1, 'Permanent']]);
      expect(await engine.errorStore.countErrorsByFlow(flowId)).toEqual({
        total: 1,
        byClass: { Transient: 0, Permanent: 1, Validation: 0, Runtime: 0 },
      });
      const scheduled = await retry(engine, flowId, 'a', 'fixed by hand');
      expect(scheduled).toMatchObject({ type: 'RetryScheduled', stepId: 'a', retryIndex: 1, reason: 'fixed by hand', delayMs: 0 });
      expect(engine.retriesScheduled(flowId)).toBe(1);
      expect((await engine.runToEnd(flowId, def)).status).toBe('completed');
    });
  });

  it('test_error_timeline_reconstruction: every attempt of every step, in order, equal to the in-memory history', async () => {
    await withStore(async (store) => {
      const flowId = crypto.randomUUID();
      const { stopped, done, def } = await runTimeline(store, flowId);
      expect(stopped.status).toBe('failed');
      expect(done.status).toBe('completed');

      const timelineA = await store.getErrorTimeline(flowId, 'a');
      const timelineB = await store.getErrorTimeline(flowId, 'b');
      expect(timelineA.map((e) => [e.attemptNumber, e.retryCount, e.maxRetries, e.errorClass])).toEqual([
        [1, 0, 3, 'Transient'],
        [2, 1, 3, 'Transient'],
      ]);
      expect(timelineB.map((e) => [e.attemptNumber, e.retryCount, e.maxRetries, e.errorClass])).toEqual([
        [1, 0, 3, 'Transient'],
        [2, 1, 3, 'Runtime'],
      ]);
      expect(timelineB[1]?.errorMessage).toBe('b attempt 2 fails (Runtime)');
      expect(await store.getErrorTimeline(flowId, 'seed')).toEqual([]);

      // Rehydration from the store equals the live history, attempt by attempt.
      const rehydrated = FlowRepository.load(flowId, await store.list(flowId), def);
      expect(rehydrated).toEqual(done);
      for (const slot of rehydrated.steps) {
        const rows = await store.getErrorTimeline(flowId, slot.stepId);
        expect(slot.errors.map((e) => ({ attemptNumber: e.attemptNumber, retryCount: e.retryCount, maxRetries: e.maxRetries, errorClass: e.errorClass, errorMessage: e.message, timestamp: e.timestamp }))).toEqual(
          rows.map((r) => ({ attemptNumber: r.attemptNumber, retryCount: r.retryCount, maxRetries: r.maxRetries, errorClass: r.errorClass, errorMessage: r.errorMessage, timestamp: r.timestamp })),
        );
      }
      expect(rehydrated.steps[2]).toMatchObject({ retryCount: 2, attempts: 3, status: 'FinishedOk' });

      // And the whole state equals the one rebuilt from an in-memory run of the same flow.
      const { MemoryFlowStore } = await import('../../src/index.js');
      const memory = await runTimeline(new MemoryFlowStore(), flowId);
      expect(withoutStacks(rehydrated)).toEqual(withoutStacks(memory.done));
    });
  });

  it('stores details {stack_trace, input_hash, params} merged with the error details', async () => {
    await withStore(async (store) => {
      const flowId = crypto.randomUUID();
      await runTimeline(store, flowId);
      const [row] = await store.getErrorTimeline(flowId, 'a');
      expect(row?.details).toMatchObject({ planned: true, params: { factor: 2 }, error_code: 'TRANSIENT' });
      expect(row?.details.stack_trace).toEqual(expect.stringContaining('a attempt 1 fails'));
      expect(row?.details.input_hash).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  it('never retries a Permanent error automatically; retries a Transient one up to maxRetries', async () => {
    await withStore(async (store) => {
      const engine = new FlowEngine({ store, clock: new ManualClock(), retryPolicy: { maxRetries: 2, backoff: { kind: 'none' } } });
      const permanent = defineFlow('p', [seedStep(), flakyStep('x', ['Permanent']), sinkStep()]);
      const p = await engine.runToEnd(await engine.startFlow(permanent), permanent);
      expect(p.steps[1]).toMatchObject({ status: 'Failed', attempts: 1, retryCount: 0 });
      expect((await store.listErrors(p.id)).map((e) => e.errorClass)).toEqual(['Permanent']);

      const transient = defineFlow('t', [seedStep(), flakyStep('x', ['Transient', 'Transient', 'Transient', 'Transient']), sinkStep()]);
      const t = await engine.runToEnd(await engine.startFlow(transient), transient);
      expect(t.status).toBe('failed');
      expect(t.steps[1]).toMatchObject({ status: 'Failed', attempts: 3, retryCount: 2 });
      const rows = await store.listErrors(t.id, 'x');
      expect(rows.map((r) => [r.attemptNumber, r.retryCount, r.maxRetries, r.errorClass])).toEqual([
        [1, 0, 2, 'Transient'],
        [2, 1, 2, 'Transient'],
        [3, 2, 2, 'Transient'],
      ]);
      expect(await store.countErrorsByFlow(t.id)).toEqual({ total: 3, byClass: { Transient: 3, Permanent: 0, Validation: 0, Runtime: 0 } });
      expect(engine.retriesRejected(t.id)).toBe(1);
      expect(engine.retriesScheduled(t.id)).toBe(2);
    });
  });

  it('a retryAfterMs from the step overrides the backoff once and still counts against maxRetries', async () => {
    await withStore(async (store) => {
      const clock = new ManualClock();
      const limited: StepDefinition = {
        id: 'provider',
        kind: 'transform',
        baseParams: {},
        retry: { maxRetries: 1, backoff: { kind: 'exponential', baseMs: 10 } },
        run: () => {
          throw new TransientError('429 Too Many Requests', { code: 'RATE_LIMITED', retryAfterMs: 1234 });
        },
      };
      const def = defineFlow('rate', [seedStep(), limited]);
      const engine = new FlowEngine({ store, clock });
      const flow = await engine.runToEnd(await engine.startFlow(def), def);
      const retries = (await store.list(flow.id)).filter((e) => e.type === 'RetryScheduled');
      expect(retries).toMatchObject([{ delayMs: 1234, retryIndex: 1 }]);
      expect(clock.sleeps).toEqual([1234]);
      expect(flow.steps[1]).toMatchObject({ status: 'Failed', attempts: 2, retryCount: 1 });
    });
  });

  it('records a lost attempt as Transient WORKER_LOST and retries it under the policy', async () => {
    await withStore(async (store) => {
      const def = defineFlow('lost', [seedStep(), flakyStep('x', []), sinkStep()]);
      const flowId = crypto.randomUUID();
      const dying = new FlowEngine({ store });
      await dying.startFlow(def, { flowId });
      await dying.next(flowId, def);
      // Simulate a process that took the lease, committed StepStarted and died before recording a result.
      expect(await store.acquireLease(flowId, 'dying-process', 250)).toEqual({ acquired: true });
      await store.append(flowId, 3, [{ type: 'StepStarted', stepIndex: 1, stepId: 'x', attempt: 1, ts: new Date().toISOString() }]);
      // While its lease runs, the attempt may belong to a live process: nothing runs and nothing is written.
      const cautious = new FlowEngine({ store });
      await expect(cautious.runToEnd(flowId, def)).rejects.toMatchObject({ code: 'FLOW_LEASED', owner: 'dying-process' });
      expect(await store.list(flowId)).toHaveLength(4);
      await untilLeaseExpired(store, flowId);
      const restarted = new FlowEngine({ store, clock: new ManualClock() });
      const flow = await restarted.runToEnd(flowId, def);
      expect(flow.status).toBe('completed');
      expect(flow.steps[1]).toMatchObject({ attempts: 2, retryCount: 1 });
      expect(await store.listErrors(flowId)).toMatchObject([{ stepId: 'x', attemptNumber: 1, errorClass: 'Transient', details: { error_code: 'WORKER_LOST' } }]);
    });
  });

  it('recovers at once a Running attempt whose process left no lease (e.g. a log written before the flow queue)', async () => {
    await withStore(async (store) => {
      const def = defineFlow('unleased', [seedStep(), flakyStep('x', []), sinkStep()]);
      const engine = new FlowEngine({ store, clock: new ManualClock() });
      const flowId = await engine.startFlow(def);
      await engine.next(flowId, def);
      await store.append(flowId, 3, [{ type: 'StepStarted', stepIndex: 1, stepId: 'x', attempt: 1, ts: new Date().toISOString() }]);
      const { outcome } = await engine.next(flowId, def);
      expect(outcome).toMatchObject({ kind: 'recovered', stepId: 'x', attempt: 1, retry: { retryIndex: 1 } });
    });
  });

  it('keeps error counts and timelines per flow with many flows in one store', async () => {
    await withStore(async (store) => {
      const ids = await Promise.all(Array.from({ length: 5 }, async () => {
        const flowId = crypto.randomUUID();
        await runTimeline(store, flowId);
        return flowId;
      }));
      for (const id of ids) {
        expect(await store.countErrorsByFlow(id)).toEqual({ total: 4, byClass: { Transient: 3, Permanent: 0, Validation: 0, Runtime: 1 } });
        expect(await store.getErrorTimeline(id, 'a')).toHaveLength(2);
        expect((await store.listErrors(id)).every((e) => e.flowId === id)).toBe(true);
      }
    });
  });
});

function withoutStacks<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === 'stack_trace' ? '<stack>' : v))) as T;
}
