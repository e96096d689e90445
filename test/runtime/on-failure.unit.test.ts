import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineFlow, defineStep, FlowEngine, FlowWorker, PermanentError, type FlowDefinition, type FlowStore, type OnFailure, type StepModule, type WorkerOutcome } from '../../src/index.js';
import { statusReport } from '../../src/cli/commands/status.js';
import { engineStores } from '../support/stores.js';

const number = (n: number): StepModule => ({ kind: 'source', version: '1', run: () => ({ outputs: [{ kind: 'number', payload: { n } }] }) });
const plusOne: StepModule = {
  kind: 'transform',
  version: '1',
  run: (ctx) => ({ outputs: [{ kind: 'number', payload: { n: ctx.input.reduce((t, a) => t + ((a as unknown as { payload: { n: number } }).payload.n ?? 0), 1) } }] }),
};

/**
 * `root` → `bad` → `afterBad`, and beside them `root` → `good` → `afterGood`; `join` needs both ends.
 * `bad` fails Permanent while `failing.on` is true; `good` records the queue row's status it sees.
 */
function fanOut(onFailure: OnFailure, failing: { on: boolean }, seen: { statuses: string[]; store?: FlowStore }): FlowDefinition {
  const bad: StepModule = {
    kind: 'transform',
    version: '1',
    run: (ctx) => {
      if (failing.on) throw new PermanentError('a malformed record');
      return plusOne.run(ctx);
    },
  };
  const good: StepModule = {
    kind: 'transform',
    version: '1',
    run: async (ctx) => {
      const rows = (await seen.store?.listFlows()) ?? [];
      seen.statuses.push(...rows.filter((r) => r.flowId === ctx.flowId).map((r) => r.status));
      return plusOne.run(ctx);
    },
  };
  return defineFlow(
    'fan-out',
    [
      defineStep('root', number(1)),
      defineStep('bad', bad, {}, { needs: ['root'] }),
      defineStep('afterBad', plusOne, {}, { needs: ['bad'] }),
      defineStep('good', good, {}, { needs: ['root'] }),
      defineStep('afterGood', plusOne, {}, { needs: ['good'] }),
      defineStep('join', plusOne, {}, { needs: ['afterBad', 'afterGood'] }),
    ],
    onFailure === 'stop' ? {} : { onFailure },
  );
}

for (const factory of engineStores)
  describe(`onFailure (${factory.name})`, { timeout: 120_000 }, () => {
    let store: FlowStore;
    beforeEach(async () => {
      store = await factory.create();
    });
    afterEach(() => store.close());

    const statusOf = async (flowId: string) => (await store.listFlows()).find((r) => r.flowId === flowId)?.status;

    it('stop: once a step failed for good, the independent branch does not start', async () => {
      const seen = { statuses: [] as string[], store };
      const definition = fanOut('stop', { on: true }, seen);
      const engine = new FlowEngine({ store, concurrency: 1 });
      const flow = await engine.runToEnd(await engine.startFlow(definition), definition);
      expect(flow.status).toBe('failed');
      expect(flow.steps.map((s) => [s.stepId, s.status])).toEqual([
        ['root', 'FinishedOk'],
        ['bad', 'Failed'],
        ['afterBad', 'Pending'],
        ['good', 'Pending'],
        ['afterGood', 'Pending'],
        ['join', 'Pending'],
      ]);
      expect(await statusOf(flow.id)).toBe('failed');
    });

    it('stop: a branch in flight when another fails for good finishes, and the queue keeps the flow failed', async () => {
      const seen = { statuses: [] as string[], store };
      const definition = fanOut('stop', { on: true }, seen);
      const engine = new FlowEngine({ store, concurrency: 4 });
      const flow = await engine.runToEnd(await engine.startFlow(definition), definition);
      expect(flow.status).toBe('failed');
      expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending', 'FinishedOk', 'Pending', 'Pending']);
      const events = await store.list(flow.id);
      // The branch's outcome came after the failure: it says the flow stays failed.
      expect(events.filter((e) => 'flowFailed' in e).map((e) => [e.type, 'stepId' in e ? e.stepId : ''])).toEqual([['StepFinished', 'good']]);
      expect(await statusOf(flow.id)).toBe('failed');
      await store.rebuildQueue(flow.id);
      expect(await statusOf(flow.id)).toBe('failed');
    });

    it('continue: the independent branch runs to its end, the flow then fails; a retry of the failed step completes it as a fault-free run', async () => {
      const seen = { statuses: [] as string[], store };
      const failing = { on: true };
      const definition = fanOut('continue', failing, seen);
      const engine = new FlowEngine({ store, concurrency: 1 });
      const flowId = await engine.startFlow(definition);
      const flow = await engine.runToEnd(flowId, definition);
      expect(flow.status).toBe('failed');
      expect(flow.steps.map((s) => [s.stepId, s.status, s.attempts])).toEqual([
        ['root', 'FinishedOk', 1],
        ['bad', 'Failed', 1],
        ['afterBad', 'Pending', 0],
        ['good', 'FinishedOk', 1],
        ['afterGood', 'FinishedOk', 1],
        ['join', 'Pending', 0],
      ]);
      // While its independent branch ran, the flow stayed open in the queue; it failed with its last step.
      expect(seen.statuses).toEqual(['running']);
      expect(await statusOf(flowId)).toBe('failed');
      const events = await store.list(flowId);
      expect(events.filter((e) => 'flowFailed' in e).map((e) => [e.type, 'stepId' in e ? e.stepId : '', 'flowFailed' in e ? e.flowFailed : undefined])).toEqual([
        ['StepFailed', 'bad', false],
        ['StepFinished', 'afterGood', true],
      ]);
      // The rebuild derives the same row from the log.
      await store.rebuildQueue(flowId);
      expect(await statusOf(flowId)).toBe('failed');

      const { report } = await statusReport(store, flowId);
      expect(report.status).toBe('failed');
      expect(report.steps.map((s) => [s.stepId, s.status, s.blockedBy])).toEqual([
        ['root', 'FinishedOk', undefined],
        ['bad', 'Failed', undefined],
        ['afterBad', 'Pending', ['bad']],
        ['good', 'FinishedOk', undefined],
        ['afterGood', 'FinishedOk', undefined],
        ['join', 'Pending', ['bad']],
      ]);

      failing.on = false;
      await engine.scheduleRetry(flowId, 'bad', { maxRetries: 1 });
      expect(await statusOf(flowId)).toBe('pending');
      const retried = await engine.runToEnd(flowId, definition);
      expect(retried.status).toBe('completed');
      // Finished branches never ran again.
      expect(retried.steps.map((s) => [s.stepId, s.attempts])).toEqual([
        ['root', 1],
        ['bad', 2],
        ['afterBad', 1],
        ['good', 1],
        ['afterGood', 1],
        ['join', 1],
      ]);
      expect(await statusOf(flowId)).toBe('completed');

      const clean = new FlowEngine({ store, concurrency: 1 });
      const faultFree = await clean.runToEnd(await clean.startFlow(definition), definition);
      expect(faultFree.status).toBe('completed');
      expect(retried.flowFingerprint).toBe(faultFree.flowFingerprint);
      expect(retried.steps.map((s) => s.fingerprint)).toEqual(faultFree.steps.map((s) => s.fingerprint));
    });

    it('continue: branches in flight at once; the flow fails only when the last one ends', async () => {
      const seen = { statuses: [] as string[], store };
      const definition = fanOut('continue', { on: true }, seen);
      const engine = new FlowEngine({ store, concurrency: 4 });
      const flow = await engine.runToEnd(await engine.startFlow(definition), definition);
      expect(flow.status).toBe('failed');
      expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending', 'FinishedOk', 'FinishedOk', 'Pending']);
      expect(await statusOf(flow.id)).toBe('failed');
      await store.rebuildQueue(flow.id);
      expect(await statusOf(flow.id)).toBe('failed');
    });

    it('continue, run by two workers (branches as work items): the independent branch completes, the flow fails; after a retry the workers complete it', async () => {
      const seen = { statuses: [] as string[], store };
      const failing = { on: true };
      const definition = fanOut('continue', failing, seen);
      const flowId = await new FlowEngine({ store }).startFlow(definition);
      const runWorkers = async (until: WorkerOutcome['kind']) => {
        const stop = new AbortController();
        const workers = [0, 1].map(
          (i) =>
            new FlowWorker({
              store,
              resolve: () => Promise.resolve({ definition }),
              owner: `w${i}`,
              pollMs: 20,
              onOutcome: (outcome) => {
                if (outcome.kind === until) stop.abort();
              },
            }),
        );
        await Promise.all(workers.map((w) => w.run({ signal: stop.signal })));
      };
      await runWorkers('failed');
      const failed = await new FlowEngine({ store }).open(flowId, definition);
      expect(failed.flow.status).toBe('failed');
      expect(failed.flow.steps.map((s) => [s.stepId, s.status, s.attempts])).toEqual([
        ['root', 'FinishedOk', 1],
        ['bad', 'Failed', 1],
        ['afterBad', 'Pending', 0],
        ['good', 'FinishedOk', 1],
        ['afterGood', 'FinishedOk', 1],
        ['join', 'Pending', 0],
      ]);
      expect(await statusOf(flowId)).toBe('failed');
      failing.on = false;
      await new FlowEngine({ store }).scheduleRetry(flowId, 'bad', { maxRetries: 1 });
      await runWorkers('completed');
      const done = await new FlowEngine({ store }).open(flowId, definition);
      expect(done.flow.status).toBe('completed');
      expect(done.flow.steps.map((s) => s.attempts)).toEqual([1, 2, 1, 1, 1, 1]);
      expect(await statusOf(flowId)).toBe('completed');
    });

    it('continue: a flow written as a list fails at its first failure, as with stop', async () => {
      const definition = defineFlow(
        'list',
        [defineStep('root', number(1)), defineStep('bad', { ...plusOne, run: () => Promise.reject(new PermanentError('no')) }), defineStep('after', plusOne)],
        { onFailure: 'continue' },
      );
      const engine = new FlowEngine({ store });
      const flow = await engine.runToEnd(await engine.startFlow(definition), definition);
      expect(flow.status).toBe('failed');
      expect(flow.steps.map((s) => s.status)).toEqual(['FinishedOk', 'Failed', 'Pending']);
      expect(await statusOf(flow.id)).toBe('failed');
    });
  });
