import { describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import {
  defineFlow,
  FlowEngine,
  FlowWorker,
  type FlowDefinition,
  type FlowResolver,
  type StepDefinition,
  type WorkerOutcome,
} from '../../src/index.js';
import { demoFlow, flakyStep, seedStep, sinkStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';
import { waitUntil } from '../support/wait-until.js';
import { systemClock, type Clock } from '../../src/runtime/clock.js';

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
      for (const id of okIds) expect(((await engine.open(id, ok)).flow).status).toBe('completed');
      expect(outcomes.find((o) => o.flowId === brokenId)?.kind).toBe('failed');
      expect(await worker.run({ untilIdle: true })).toEqual([]);

      // A manual retry reopens the failed flow, and the workers finish it.
      await engine.scheduleRetry(brokenId, 'middle', { reason: 'fixed' });
      expect(kinds(await worker.run({ untilIdle: true }))).toEqual(['completed']);
    });
  });

  it('runs each flow with its own setup\'s base directory, flows of different setups side by side', async () => {
    await withStore(async (store) => {
      const seen = new Map<string, string>();
      const noting = (name: string): FlowDefinition =>
        defineFlow(name, [{ id: 'note', kind: 'source', baseParams: {}, run: (ctx) => (seen.set(ctx.flowId, ctx.baseDir), { outputs: [] }) }]);
      const first = noting('first');
      const second = noting('second');
      const engine = new FlowEngine({ store });
      const ids = { first: await engine.startFlow(first), second: await engine.startFlow(second) };
      const resolve: FlowResolver = (_flowId, initialized) =>
        Promise.resolve(initialized.flowName === 'first' ? { definition: first, baseDir: '/flows/first' } : { definition: second, baseDir: '/flows/second', retryPolicy: { maxRetries: 0, backoff: { kind: 'none' } } });
      const worker = new FlowWorker({ store, resolve, concurrency: 2 });
      expect(kinds(await worker.run({ untilIdle: true }))).toEqual(['completed', 'completed']);
      expect(seen).toEqual(new Map([[ids.first, '/flows/first'], [ids.second, '/flows/second']]));
    });
  });

  it('leaves a retry that is not due in the queue, then runs it when it is', async () => {
    await withStore(async (store) => {
      const def = defineFlow('later', [seedStep(), flakyStep('flaky', ['Transient'], { retry: { maxRetries: 2, backoff: { kind: 'exponential', baseMs: 300 } } })]);
      const engine = new FlowEngine({ store });
      const flowId = await engine.startFlow(def);
      await engine.next(flowId, def); // seed
      const failed = await engine.next(flowId, def); // flaky fails; the retry is due in 300 ms
      expect(failed.outcome).toMatchObject({ kind: 'failed', retry: { delayMs: 300 } });
      const notBefore = Date.parse(failed.flow.steps[1]?.notBefore ?? '');
      const [row] = await store.listFlows({ status: ['waiting'] });
      expect(row).toMatchObject({ flowId, status: 'waiting', nextDueAt: new Date(notBefore).toISOString(), leaseOwner: null });

      const outcomes = await new FlowWorker({ store, resolve: byName(def), pollMs: 50 }).run({ untilIdle: true });
      expect(outcomes).toMatchObject([{ kind: 'completed', flowId }]);
      expect(Date.now()).toBeGreaterThanOrEqual(notBefore);
    });
  });

  it('never sleeps on one flow\'s backoff: another flow runs meanwhile, and an abort is honoured at once', async () => {
    await withStore(async (store) => {
      const slow = defineFlow('slow-retry', [seedStep(), flakyStep('flaky', ['Transient'], { retry: { maxRetries: 1, backoff: { kind: 'exponential', baseMs: 60_000 } } })]);
      const quick = demoFlow();
      const engine = new FlowEngine({ store });
      const waitingId = await engine.startFlow(slow);
      const stop = new AbortController();
      const seen: WorkerOutcome[] = [];
      const worker = new FlowWorker({
        store,
        resolve: byName(slow, quick),
        pollMs: 20,
        onOutcome: (o) => {
          seen.push(o);
          if (o.kind === 'completed') stop.abort();
        },
      });
      const running = worker.run({ signal: stop.signal });
      await waitUntil(() => seen.some((o) => o.kind === 'waiting' && o.flowId === waitingId), 'the first flow to wait');
      const quickId = await engine.startFlow(quick);
      const outcomes = await running; // the quick flow completed (which aborts the worker) during the 60 s backoff
      expect(outcomes).toMatchObject([{ kind: 'waiting', flowId: waitingId }, { kind: 'completed', flowId: quickId }]);

      // An idle worker whose only flow waits a minute stops as soon as it is aborted.
      const idle = new AbortController();
      const started = Date.now();
      // The abort comes once the worker has gone to sleep (until the retry is due, a minute away).
      const asleep: Clock = { ...systemClock, sleep: (ms, signal) => (setImmediate(() => idle.abort()), systemClock.sleep(ms, signal)) };
      const idleRun = new FlowWorker({ store, resolve: byName(slow, quick), pollMs: 60_000, clock: asleep }).run({ signal: idle.signal });
      expect(await idleRun).toEqual([]);
      expect(Date.now() - started).toBeLessThan(1_000 + 100);
      expect((await store.list(waitingId)).at(-1)?.type).toBe('RetryScheduled'); // nothing started after the abort
    });
  });

  it('recovers the attempt of a worker whose lease expired as WORKER_LOST, and never one whose lease is renewed', async () => {
    await withStore(async (store) => {
      const def = demoFlow();
      const flowId = await new FlowEngine({ store }).startFlow(def);
      // A worker claims the flow, starts its first attempt, and dies: its lease is never renewed.
      expect(await store.claimFlows('dead-worker', { limit: 10, leaseMs: 300 })).toMatchObject([{ flowId }]);
      await store.append(flowId, 1, [{ type: 'StepStarted', stepIndex: 0, stepId: 'seed', attempt: 1, ts: new Date().toISOString() }]);

      // Until the lease expires the flow is the dead worker's: nobody else may run it.
      expect(await new FlowWorker({ store, resolve: byName(def) }).run({ untilIdle: true })).toEqual([]);
      await waitUntil(async () => (await store.claimFlows('probe', { limit: 0, leaseMs: 1 })).length === 0 && (await store.nextWakeAt() ?? Infinity) <= Date.now(), 'the dead worker\'s lease to expire');
      const outcomes = await new FlowWorker({ store, resolve: byName(def) }).run({ untilIdle: true });
      expect(kinds(outcomes).filter((k) => k !== 'waiting')).toEqual(['completed']); // waiting: the retry's backoff
      const [lost, ...more] = await store.getErrorTimeline(flowId, 'seed');
      expect(more).toEqual([]);
      expect(lost).toMatchObject({ attemptNumber: 1, errorClass: 'Transient', details: { error_code: 'WORKER_LOST' } });
    });
  });

  it('a step slower than the lease but heartbeating is never taken over', { timeout: 30_000 }, async () => {
    await withStore(async (store) => {
      let runs = 0;
      let renewals = 0;
      // The step outlasts two leases (300 ms each) of heartbeats (one each 75 ms).
      const outlasting = (): Promise<void> => waitUntil(() => renewals >= 8, 'two leases of heartbeats');
      const def = defineFlow('slow', [{ id: 'slow', kind: 'source', baseParams: {}, run: async () => (runs++, await outlasting(), { outputs: [{ kind: 'n', payload: 1 }] }) }]);
      const flowId = await new FlowEngine({ store }).startFlow(def);
      const options = { store, resolve: byName(def), leaseMs: 300, heartbeatMs: 75, pollMs: 20 };
      let claimed: () => void = () => undefined;
      const firstClaimed = new Promise<void>((resolve) => (claimed = resolve));
      const holder = new FlowWorker({ ...options, onClaim: () => claimed(), onHeartbeat: (renewed) => (renewals += renewed) });
      const [first, second] = await Promise.all([holder.run({ untilIdle: true }), firstClaimed.then(() => new FlowWorker(options).run({ untilIdle: true }))]);
      expect([...first, ...second]).toMatchObject([{ kind: 'completed', flowId }]);
      expect(runs).toBe(1);
      expect(await store.countErrorsByFlow(flowId)).toMatchObject({ total: 0 });
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
      expect(outcomes.every((o) => o.kind === 'completed')).toBe(true); // claims never overlap: nobody reports a flow twice
      expect([...executions.keys()].sort()).toEqual(ids.flatMap((id) => def.steps.map((s) => `${id}/${s.id}/1`)).sort());
      expect([...executions.values()].every((n) => n === 1)).toBe(true);
      for (const id of ids) {
        const versions = (await store.list(id)).map((e) => e.version);
        expect(versions).toEqual(versions.map((_, i) => i + 1));
        expect(await store.countErrorsByFlow(id)).toMatchObject({ total: 0 });
      }
    });
  });

  it('stops between steps when aborted, leaving the flow for anyone to continue', async () => {
    await withStore(async (store) => {
      const stop = new AbortController();
      const def = defineFlow('stoppable', [
        seedStep(),
        { id: 'halt', kind: 'transform', baseParams: {}, run: (ctx) => (stop.abort(), { outputs: ctx.input.map((a) => ({ kind: a.kind, payload: (a as Artifact).payload })) }) },
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
