import { describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import { cancelFlow, defineFlow, FlowEngine, FlowNotRunnableError, FlowWorker, TransientError, type FlowDefinition, type FlowResolver } from '../../src/index.js';
import { demoFlow, flakyStep, seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';
import { untilLeaseExpired, waitUntil } from '../support/wait-until.js';

const resolveAs =
  (definition: FlowDefinition): FlowResolver =>
  () =>
    Promise.resolve({ definition });


describe.each(engineStores)('cancel on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('a pending flow is never started; cancelling it again, or a completed flow, is refused and appends nothing', async () => {
    await withStore(async (store) => {
      const def = demoFlow();
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(def);
      const cancelled = await cancelFlow(store, flowId, 'wrong input');
      expect(cancelled).toMatchObject({ type: 'FlowCancelled', reason: 'wrong input', version: 2 });
      expect((await store.listFlows({ status: ['cancelled'] })).map((f) => f.flowId)).toEqual([flowId]);

      expect(await new FlowWorker({ store, resolve: resolveAs(def) }).run({ untilIdle: true })).toEqual([]);
      await expect(engine.runToEnd(flowId, def)).rejects.toMatchObject({ reason: 'cancelled' });
      await expect(cancelFlow(store, flowId)).rejects.toBeInstanceOf(FlowNotRunnableError);
      expect((await store.list(flowId)).map((e) => e.type)).toEqual(['FlowInitialized', 'FlowCancelled']);

      const done = await engine.runToEnd(await engine.startFlow(def), def);
      await expect(cancelFlow(store, done.id)).rejects.toMatchObject({ reason: 'completed' });
      expect((await store.list(done.id)).at(-1)?.type).toBe('FlowCompleted');
    });
  });

  it('a flow waiting for a retry is cancelled: the retry never runs, and a manual retry is refused', async () => {
    await withStore(async (store) => {
      const def = defineFlow('waiting', [seedStep(), flakyStep('flaky', ['Transient'], { retry: { maxRetries: 2, backoff: { kind: 'exponential', baseMs: 60_000 } } })]);
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(def);
      const waiting = await engine.runToEnd(flowId, def, { waitForRetries: false });
      expect(waiting.steps[1]).toMatchObject({ status: 'Pending', retryCount: 1 });
      await cancelFlow(store, flowId);
      const [row] = await store.listFlows({ status: ['cancelled'] });
      expect(row).toMatchObject({ flowId, nextDueAt: null });
      await expect(engine.scheduleRetry(flowId, 'flaky')).rejects.toMatchObject({ reason: 'flow_cancelled' });
      expect((await store.list(flowId)).at(-1)?.type).toBe('FlowCancelled');
    });
  });

  it('a running attempt sees the cancel at its next heartbeat: ctx.signal aborts, its outcome is recorded after it, nothing starts', async () => {
    await withStore(async (store) => {
      let aborted: unknown = null;
      const def = defineFlow('cancel-me', [
        seedStep(),
        {
          id: 'long',
          kind: 'transform',
          baseParams: {},
          run: (ctx) =>
            new Promise((_, reject) => {
              ctx.signal.addEventListener('abort', () => {
                aborted = ctx.signal.reason;
                reject(new Error('stopped by the signal'));
              });
            }),
        },
        sinkStep(),
      ]);
      const flowId = await new FlowEngine({ store }).startFlow(def);
      const worker = new FlowWorker({ store, resolve: resolveAs(def), heartbeatMs: 50, leaseMs: 5_000 });
      const running = worker.run({ untilIdle: true });
      await waitUntil(async () => (await store.list(flowId)).some((e) => e.type === 'StepStarted' && e.stepId === 'long'), 'the long step to start');
      await cancelFlow(store, flowId, 'operator');
      const outcomes = await running;
      expect(outcomes).toMatchObject([{ kind: 'cancelled', flowId }]);
      expect(aborted).toMatchObject({ code: 'FLOW_CANCELLED' });
      const types = (await store.list(flowId)).map((e) => e.type);
      expect(types.slice(-3)).toEqual(['StepStarted', 'FlowCancelled', 'StepFailed']);
      expect(await store.listErrors(flowId, 'long')).toMatchObject([{ attemptNumber: 1, errorClass: 'Permanent', details: { error_code: 'FLOW_CANCELLED' } }]);
      expect((await store.listFlows({ status: ['cancelled'] })).map((f) => f.flowId)).toEqual([flowId]);
    });
  });

  it('a flow cancelled while its shards run: shards in flight see it at their heartbeat and record their outcome, none starts after it', async () => {
    await withStore(async (store) => {
      const started: number[] = [];
      const def = defineFlow('cancel-shards', [
        { id: 'seed', kind: 'source', baseParams: {}, run: () => ({ outputs: [{ kind: 'set', payload: { items: [1, 2, 3, 4, 5, 6, 7, 8] } }] }) },
        {
          id: 'wait',
          kind: 'transform',
          baseParams: {},
          map: { over: 'items', shardSize: 1 },
          run: (ctx) => {
            started.push(ctx.shard?.index ?? -1);
            return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('stopped by the signal'))));
          },
        },
        sinkStep(),
      ]);
      const flowId = await new FlowEngine({ store }).startFlow(def);
      const worker = new FlowWorker({ store, resolve: resolveAs(def), heartbeatMs: 50, leaseMs: 5_000, concurrency: 2 });
      const running = worker.run({ untilIdle: true });
      await waitUntil(() => started.length >= 2, 'two shards to start');
      await cancelFlow(store, flowId, 'operator');
      const outcomes = await running;
      expect(outcomes.filter((o) => o.kind !== 'shard')).toMatchObject([{ kind: 'cancelled', flowId }]);
      const events = await store.list(flowId);
      const cancelAt = events.findIndex((e) => e.type === 'FlowCancelled');
      expect(events.slice(cancelAt + 1).some((e) => e.type === 'StepStarted')).toBe(false);
      const shardOutcomes = events.slice(cancelAt + 1).filter((e) => e.type === 'StepFailed' && e.shard !== undefined);
      expect(shardOutcomes.length).toBe(started.length);
      expect((await store.listFlows({ status: ['cancelled'] })).map((f) => f.flowId)).toEqual([flowId]);
    });
  });

  it("a flow cancelled while its mapped step waits for a shard's retry: the coordinator ends the step as cancelled, and no shard row stays due", async () => {
    await withStore(async (store) => {
      const def = defineFlow('cancel-waiting-shard', [
        { id: 'seed', kind: 'source', baseParams: {}, run: () => ({ outputs: [{ kind: 'set', payload: { items: [1, 2, 3, 4] } }] }) },
        {
          id: 'square',
          kind: 'transform',
          baseParams: {},
          map: { over: 'items', shardSize: 1 },
          retry: { maxRetries: 2, backoff: { kind: 'exponential', baseMs: 600_000 } },
          run: (ctx) => {
            if (ctx.shard?.index === 0) throw new TransientError('busy');
            const items = ((ctx.input[0] as Artifact | undefined)?.payload as { items: number[] }).items;
            return { outputs: [{ kind: 'set', payload: { items: items.map((x) => x * x) } }] };
          },
        },
        sinkStep(),
      ]);
      const flowId = await new FlowEngine({ store }).startFlow(def);
      const worker = new FlowWorker({ store, resolve: resolveAs(def), heartbeatMs: 50, leaseMs: 5_000, concurrency: 2 });
      const running = worker.run({ untilIdle: true });
      const shardEvents = async () => (await store.list(flowId)).filter((e) => e.type !== 'StepStarted' && 'shard' in e && e.shard !== undefined);
      await waitUntil(async () => (await shardEvents()).filter((e) => e.type === 'StepFinished' || e.type === 'RetryScheduled').length === 4, 'three shards to finish and one to wait');
      await cancelFlow(store, flowId, 'operator');
      expect((await running).filter((o) => o.kind !== 'shard')).toMatchObject([{ kind: 'cancelled', flowId }]);

      const events = await store.list(flowId);
      const after = events.slice(events.findIndex((e) => e.type === 'FlowCancelled') + 1);
      expect(after).toMatchObject([{ type: 'StepFailed', stepId: 'square', errorClass: 'Permanent', error: { code: 'FLOW_CANCELLED' } }]);
      expect(after[0]).not.toHaveProperty('shard');
      const step = (await new FlowEngine({ store }).open(flowId, def)).flow.steps[1];
      expect(step?.status).toBe('Failed');
      expect(step?.shards?.map((s) => s.status)).toEqual(['Pending', 'FinishedOk', 'FinishedOk', 'FinishedOk']);
      expect((await store.listShards(flowId)).filter((r) => r.open)).toEqual([]);
      expect((await store.listFlows({ status: ['cancelled'] })).map((f) => f.flowId)).toEqual([flowId]);
    });
  });

  it('a flow cancelled after its worker died: the attempt it left Running is recorded as lost, with no retry; a live holder records its own', async () => {
    await withStore(async (store) => {
      const def = demoFlow();
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(def);
      // A worker claims the flow, starts its first step and dies: its lease expires unrenewed.
      expect(await store.claimFlows('dead', { limit: 1, leaseMs: 1_000 })).toHaveLength(1);
      await store.append(flowId, 1, [{ type: 'StepStarted', stepIndex: 0, stepId: def.steps[0]?.id ?? '', attempt: 1, ts: new Date().toISOString() }]);
      await cancelFlow(store, flowId, 'operator');
      // While its lease has not expired, the holder may still be alive: nothing is recorded for it.
      expect(await engine.recordLostAttempts(await engine.open(flowId, def))).toEqual([]);
      await untilLeaseExpired(store, flowId);
      const lost = await engine.recordLostAttempts(await engine.open(flowId, def));
      expect(lost).toMatchObject([{ type: 'StepFailed', stepIndex: 0, attempt: 1, errorClass: 'Transient', error: { code: 'WORKER_LOST' } }]);
      const types = (await store.list(flowId)).map((e) => e.type);
      expect(types).toEqual(['FlowInitialized', 'StepStarted', 'FlowCancelled', 'StepFailed']);
      expect(await store.listErrors(flowId)).toMatchObject([{ attemptNumber: 1, errorClass: 'Transient', details: { error_code: 'WORKER_LOST' } }]);
      expect((await store.listFlows({ status: ['cancelled'] })).map((f) => f.flowId)).toEqual([flowId]);
      expect(await engine.recordLostAttempts(await engine.open(flowId, def))).toEqual([]); // nothing Running any more
    });
  });
});
