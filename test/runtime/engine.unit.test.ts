import { describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import {
  FlowLeasedError,
  defineFlow,
  FlowEngine,
  FlowNotRunnableError,
  FlowRepository,
} from '../../src/index.js';
import { comparable, demoFlow, ManualClock, seedStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';

describe.each(engineStores)('FlowEngine on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('runs a flow to the end with one FlowCompleted carrying the flow fingerprint', async () => {
    await withStore(async (store) => {
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(demoFlow());
      const flow = await engine.runToEnd(flowId, demoFlow());
      expect(flow.status).toBe('completed');
      expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'FinishedOk', 'FinishedOk', 'FinishedOk']);
      const events = await store.list(flowId);
      expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
      expect(events.at(-1)).toMatchObject({ type: 'FlowCompleted', flowFingerprint: flow.flowFingerprint });
      const report = await store.getArtifacts(flow.steps[3]?.outputs ?? []);
      expect((report[0] as Artifact | undefined)?.payload).toEqual({ total: 6 });
    });
  });

  it('runToEnd stops between steps once its signal aborts, without starting the next step', async () => {
    await withStore(async (store) => {
      const stop = new AbortController();
      const def = defineFlow('stoppable', [
        seedStep(),
        { id: 'halt', kind: 'transform', baseParams: {}, run: (ctx) => (stop.abort(), { outputs: ctx.input.map((a) => ({ kind: a.kind, payload: (a as Artifact).payload })) }) },
        { id: 'tail', kind: 'sink', baseParams: {}, run: () => ({ outputs: [] }) },
      ]);
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(def);
      const stopped = await engine.runToEnd(flowId, def, { signal: stop.signal });
      expect(['completed', 'failed']).not.toContain(stopped.status);
      expect(stopped.steps.map((s) => s.status)).toEqual(['FinishedOk', 'FinishedOk', 'Pending']);
      expect((await store.list(flowId)).at(-1)?.type).toBe('StepFinished');
      // Another engine continues at once: nothing was left Running, so no attempt is presumed lost.
      const done = await new FlowEngine({ store }).runToEnd(flowId, def);
      expect(done.status).toBe('completed');
      expect(await store.countErrorsByFlow(flowId)).toMatchObject({ total: 0 });
    });
  });

  it('a stop that arrives during the commit that chained the next StepStarted still runs that step', async () => {
    await withStore(async (store) => {
      const stop = new AbortController();
      const def = defineFlow('chained', [
        seedStep(),
        { id: 'next', kind: 'transform', baseParams: {}, run: (ctx) => ({ outputs: ctx.input.map((a) => ({ kind: a.kind, payload: (a as Artifact).payload })) }) },
        { id: 'tail', kind: 'sink', baseParams: {}, run: () => ({ outputs: [] }) },
      ]);
      // Aborted while the commit of seed's StepFinished + next's StepStarted is being applied.
      const engine = new FlowEngine({ store, onEvent: (event) => event.type === 'StepStarted' && event.stepId === 'next' && stop.abort() });
      const flowId = await engine.startFlow(def);
      const stopped = await engine.runToEnd(flowId, def, { signal: stop.signal });
      expect(stopped.steps.map((s) => s.status)).toEqual(['FinishedOk', 'FinishedOk', 'Pending']); // nothing left Running
      const done = await new FlowEngine({ store }).runToEnd(flowId, def);
      expect(done.status).toBe('completed');
      expect(await store.countErrorsByFlow(flowId)).toMatchObject({ total: 0 }); // no false WORKER_LOST
    });
  });

  it('three runs give identical events and fingerprints', async () => {
    await withStore(async (store) => {
      const runs = [];
      for (let i = 0; i < 3; i++) {
        const engine = new FlowEngine({ store });
        const flowId = await engine.startFlow(demoFlow());
        const flow = await engine.runToEnd(flowId, demoFlow());
        runs.push({ events: comparable(await store.list(flowId)), fingerprints: flow.steps.map((s) => s.fingerprint), flow: flow.flowFingerprint });
      }
      expect(runs[1]).toEqual(runs[0]);
      expect(runs[2]).toEqual(runs[0]);
    });
  });

  it('stops the flow on a failure that is not retried', async () => {
    await withStore(async (store) => {
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(demoFlow(['Runtime']));
      const flow = await engine.runToEnd(flowId, demoFlow(['Runtime']));
      expect(flow.status).toBe('failed');
      expect(flow.status).not.toBe('completed');
      expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'FinishedOk', 'Failed', 'Pending']);
      const types = (await store.list(flowId)).map((e) => e.type);
      expect(types.at(-1)).toBe('StepFailed');
      expect(types).not.toContain('FlowCompleted');
    });
  });

  it('next on a completed or failed flow is a typed error', async () => {
    await withStore(async (store) => {
      const engine = new FlowEngine({ store });
      const done = await engine.startFlow(demoFlow());
      await engine.runToEnd(done, demoFlow());
      await expect(engine.next(done, demoFlow())).rejects.toMatchObject({ code: 'FLOW_NOT_RUNNABLE', reason: 'completed' });
      const failed = await engine.startFlow(demoFlow(['Permanent']));
      await engine.runToEnd(failed, demoFlow(['Permanent']));
      const error: unknown = await engine.next(failed, demoFlow(['Permanent'])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FlowNotRunnableError);
      expect(error).toMatchObject({ reason: 'failed', failedStepId: 'middle' });
    });
  });

  it('next runs exactly one step and initialises a new flow', async () => {
    await withStore(async (store) => {
      const engine = new FlowEngine({ store });
      const flowId = crypto.randomUUID();
      const first = await engine.next(flowId, demoFlow());
      expect(first.outcome).toEqual({ kind: 'finished', stepId: 'seed', attempt: 1 });
      expect(first.flow.cursor).toBe(1);
      expect((await store.list(flowId)).map((e) => e.type)).toEqual(['FlowInitialized', 'StepStarted', 'StepFinished']);
    });
  });

  it('replay of the stored events rebuilds exactly the state the engine had', async () => {
    await withStore(async (store) => {
      const clock = new ManualClock();
      const def = demoFlow(['Transient', 'Transient']);
      const engine = new FlowEngine({ store, clock });
      const flowId = await engine.startFlow(def);
      const states = [];
      const live = new FlowEngine({ store, clock, onEvent: (_e, flow) => states.push(flow) });
      const final = await live.runToEnd(flowId, def);
      const events = await store.list(flowId);
      expect(FlowRepository.load(flowId, events, def)).toEqual(final);
      expect((await engine.open(flowId, def)).flow).toEqual(final);
      expect(states.length).toBe(events.length - 1);
    });
  });

  it('two engines running the same flow: one wins, the other is refused by its lease (FlowLeasedError), no gap or duplicate', async () => {
    await withStore(async (store) => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const def = defineFlow('race', [
        {
          ...seedStep(),
          async run(ctx) {
            await gate;
            return { outputs: [{ kind: 'number', payload: { n: ctx.attempt } }] };
          },
        },
      ]);
      const flowId = await new FlowEngine({ store }).startFlow(def);
      const a = new FlowEngine({ store }).next(flowId, def);
      const b = new FlowEngine({ store }).next(flowId, def);
      // The loser is rejected while the winner is still inside its step.
      const first = await Promise.race([a.then(() => 'won', () => 'lost'), b.then(() => 'won', () => 'lost')]);
      expect(first).toBe('lost');
      release();
      const results = await Promise.allSettled([a, b]);
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(rejected).toHaveLength(1);
      expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(FlowLeasedError);
      const events = await store.list(flowId);
      expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === 'StepStarted')).toHaveLength(1);
    });
  });
});
