import { describe, expect, it } from 'vitest';
import {
  defineFlow,
  FlowEngine,
  FlowWorker,
  type FlowDefinition,
  type FlowResolver,
  type FlowStore,
  type StepDefinition,
  type WorkerOutcome,
} from '../../src/index.js';
import { demoFlow, flakyStep, ManualClock, seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';

/** Resolves stored flows by their name, as the CLI resolves them by their recorded flow file. */
function byName(...definitions: FlowDefinition[]): FlowResolver {
  return (_flowId, initialized) => {
    const definition = definitions.find((d) => d.name === initialized.flowName);
    return definition ? Promise.resolve({ definition }) : Promise.reject(new Error(`no definition named ${initialized.flowName}`));
  };
}

const kinds = (outcomes: readonly WorkerOutcome[]): string[] => outcomes.map((o) => o.kind).sort();

/** A flow whose every step counts its executions per flow, step and attempt. */
function countingFlow(executions: Map<string, number>): FlowDefinition {
  const counted = (step: StepDefinition): StepDefinition => ({
    ...step,
    async run(ctx) {
      const key = `${ctx.flowId}/${ctx.stepId}/${ctx.attempt}`;
      executions.set(key, (executions.get(key) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 2));
      return step.run(ctx);
    },
  });
  return defineFlow('counted', [seedStep(), flakyStep('double', []), flakyStep('triple', [], { factor: 3 }), sinkStep()].map(counted));
}

describe.each(engineStores)('FlowWorker on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('drives every open flow to its end; a failure stops only its own flow; closed flows are left alone', async () => {
    await withStore(async (store) => {
      const ok = demoFlow();
      const broken = defineFlow('broken', [seedStep(), flakyStep('middle', ['Permanent'])]);
      const engine = new FlowEngine({ store });
      const okIds = [await engine.startFlow(ok), await engine.startFlow(ok), await engine.startFlow(ok)];
      const brokenId = await engine.startFlow(broken);
      const worker = new FlowWorker({ store, resolve: byName(ok, broken), concurrency: 2 });

      const outcomes = await worker.run({ untilIdle: true });
      expect(kinds(outcomes)).toEqual(['completed', 'completed', 'completed', 'failed']);
      for (const id of okIds) expect((await engine.load(id, ok)).completed).toBe(true);
      expect(outcomes.find((o) => o.flowId === brokenId)?.kind).toBe('failed');
      expect(await worker.run({ untilIdle: true })).toEqual([]);

      // A manual retry reopens the failed flow, and the workers finish it.
      await engine.scheduleRetry(brokenId, broken, 'middle', 'fixed');
      expect(kinds(await worker.run({ untilIdle: true }))).toEqual(['completed']);
    });
  });

  it('defers a retry that is not due yet, then runs it when it is (on a clock the test moves)', async () => {
    await withStore(async (store) => {
      // A controlled clock: "not due yet" cannot turn into "due" while a loaded machine is slow.
      const clock = new ManualClock();
      const def = defineFlow('later', [seedStep(), flakyStep('flaky', ['Transient'], { retry: { maxRetries: 2, backoff: { kind: 'exponential', baseMs: 300 } } })]);
      const engine = new FlowEngine({ store, clock });
      const flowId = await engine.startFlow(def);
      await engine.next(flowId, def); // seed
      const failed = await engine.next(flowId, def); // flaky fails; the retry is due in 300 ms
      expect(failed.outcome).toMatchObject({ kind: 'failed', retry: { delayMs: 300 } });
      const notBefore = Date.parse(failed.flow.steps[1]?.notBefore ?? '');
      expect(notBefore).toBe(clock.now() + 300);

      const worker = new FlowWorker({ store, resolve: byName(def), clock, pollMs: 10 });
      expect(await worker.pass()).toEqual([{ kind: 'waiting', flowId, notBefore }]);
      clock.current = notBefore - 1;
      expect(await worker.pass()).toEqual([{ kind: 'waiting', flowId, notBefore }]); // 1 ms early: still no attempt
      expect((await store.list(flowId)).filter((e) => e.type === 'StepStarted')).toHaveLength(2);

      clock.current = notBefore;
      const outcomes = await worker.run({ untilIdle: true });
      expect(outcomes).toMatchObject([{ kind: 'completed', flowId }]);
      const retried = (await store.list(flowId)).find((e) => e.type === 'StepStarted' && e.stepId === 'flaky' && e.attempt === 2);
      expect(Date.parse(retried?.ts ?? '')).toBeGreaterThanOrEqual(notBefore);
    });
  });

  it('backs off from an attempt running elsewhere, and recovers it as WORKER_LOST once it is stale', async () => {
    await withStore(async (store) => {
      const def = demoFlow();
      const flowId = await new FlowEngine({ store }).startFlow(def);
      // Another process started the first attempt and is (as far as anyone can tell) still at it.
      await store.append(flowId, 1, [{ type: 'StepStarted', stepIndex: 0, stepId: 'seed', attempt: 1, ts: new Date().toISOString() }]);

      const patient = new FlowWorker({ store, resolve: byName(def) });
      expect(await patient.run({ untilIdle: true })).toEqual([{ kind: 'busy', flowId }]);

      const recovering = new FlowWorker({ store, resolve: byName(def), staleAttemptMs: 0 });
      expect(kinds(await recovering.run({ untilIdle: true }))).toEqual(['completed']);
      const [lost] = await store.getErrorTimeline(flowId, 'seed');
      expect(lost).toMatchObject({ attemptNumber: 1, errorClass: 'Transient', details: { error_code: 'WORKER_LOST' } });
    });
  });

  it('reports a flow it cannot resolve and still runs the others', async () => {
    await withStore(async (store) => {
      const known = demoFlow();
      const engine = new FlowEngine({ store });
      const unknownId = await engine.startFlow(defineFlow('unknown', [seedStep()]));
      await engine.startFlow(known);
      const outcomes = await new FlowWorker({ store, resolve: byName(known) }).run({ untilIdle: true });
      expect(kinds(outcomes)).toEqual(['completed', 'unresolvable']);
      const unresolvable = outcomes.find((o) => o.kind === 'unresolvable');
      expect(unresolvable?.flowId).toBe(unknownId);
      expect(unresolvable?.kind === 'unresolvable' && unresolvable.error.message).toBe('no definition named unknown');
    });
  });

  it('two workers sharing one store run every attempt of every flow exactly once', { timeout: 60_000 }, async () => {
    await withStore(async (store) => {
      const executions = new Map<string, number>();
      const def = countingFlow(executions);
      const engine = new FlowEngine({ store });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await engine.startFlow(def));

      const workers = [0, 1].map(() => new FlowWorker({ store, resolve: byName(def), concurrency: 2, pollMs: 10 }));
      const outcomes = (await Promise.all(workers.map((w) => w.run({ untilIdle: true })))).flat();

      expect(outcomes.filter((o) => o.kind === 'completed').map((o) => o.flowId).sort()).toEqual([...ids].sort());
      expect(outcomes.every((o) => o.kind === 'completed' || o.kind === 'busy')).toBe(true);
      expect([...executions.keys()].sort()).toEqual(ids.flatMap((id) => def.steps.map((s) => `${id}/${s.id}/1`)).sort());
      expect([...executions.values()].every((n) => n === 1)).toBe(true);
      for (const id of ids) {
        const versions = (await store.list(id)).map((e) => e.version);
        expect(versions).toEqual(versions.map((_, i) => i + 1));
        expect(await store.countErrorsByFlow(id)).toMatchObject({ total: 0 });
      }
    });
  });

  it('a flow another worker ended after this pass listed it is not reported again', async () => {
    await withStore(async (store) => {
      const def = demoFlow();
      const flowId = await new FlowEngine({ store }).startFlow(def);
      const slowLister = new FlowWorker({ store, resolve: byName(def) });
      // The other worker finishes the flow between this worker's listing and its visit.
      const listFlows = store.listFlows.bind(store);
      const racing: FlowStore = Object.assign(Object.create(store) as FlowStore, {
        listFlows: async () => {
          const listed = await listFlows();
          await new FlowWorker({ store, resolve: byName(def) }).run({ untilIdle: true });
          return listed;
        },
      });
      const late = new FlowWorker({ store: racing, resolve: byName(def) });
      expect(await late.pass()).toEqual([{ kind: 'busy', flowId }]);
      expect(await slowLister.pass()).toEqual([]);
    });
  });

  it('stops between steps when aborted, leaving the flow for anyone to continue', async () => {
    await withStore(async (store) => {
      const stop = new AbortController();
      const def = defineFlow('stoppable', [
        seedStep(),
        { id: 'halt', kind: 'transform', baseParams: {}, run: (ctx) => (stop.abort(), { outputs: ctx.input.map((a) => ({ kind: a.kind, payload: a.payload })) }) },
        sinkStep(),
      ]);
      const flowId = await new FlowEngine({ store }).startFlow(def);
      const worker = new FlowWorker({ store, resolve: byName(def) });
      const outcomes = await worker.run({ signal: stop.signal });
      expect(outcomes).toMatchObject([{ kind: 'stopped', flowId }]);
      expect(kinds(await worker.run({ untilIdle: true }))).toEqual(['completed']);
    });
  });
});
