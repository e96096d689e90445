import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineFlow, defineStep, FlowEngine, type FlowDefinition, type FlowStore, type StepModule } from '../../src/index.js';
import type { Condition } from '../../src/core/condition.js';
import { engineStores } from '../support/stores.js';

/** A number source, a sum of every input, a labelled copy: enough to see what each step read. */
const number = (n: number): StepModule => ({ kind: 'source', version: '1', run: () => ({ outputs: [{ kind: 'number', payload: { n } }] }) });
const sum: StepModule = {
  kind: 'transform',
  version: '1',
  run: (ctx) => ({ outputs: [{ kind: 'number', payload: { n: ctx.input.reduce((total, a) => total + ((a as unknown as { payload: { n: number } }).payload.n ?? 0), 0) } }] }),
};
/** `left - right`, read through its named inputs: input order cannot hide a wrong binding. */
const difference: StepModule = {
  kind: 'transform',
  version: '1',
  run: (ctx) => {
    const value = (name: string): number => (ctx.inputs[name] as { payload: { n: number } } | undefined)?.payload.n ?? Number.NaN;
    return { outputs: [{ kind: 'number', payload: { n: value('left') - value('right') } }] };
  },
};

const diamond = (): FlowDefinition =>
  defineFlow('diamond', [
    defineStep('a', number(2)),
    defineStep('b', sum, {}, { needs: ['a'] }),
    defineStep('c', sum, {}, { needs: ['a'] }),
    defineStep('d', difference, {}, { inputs: { left: { step: 'b', output: null }, right: { step: 'c', output: null } } }),
  ]);

const gated = (value: number): FlowDefinition => {
  const when: Condition = { step: 'count', output: null, path: '$.n', op: '>', value };
  return defineFlow('gated', [
    defineStep('count', number(3)),
    defineStep('expensive', sum, {}, { when }),
    defineStep('after', sum, {}, { needs: ['expensive'] }),
    defineStep('other', number(7), {}, {}),
    defineStep('report', sum, {}, { needs: ['after', 'other'] }),
  ]);
};

for (const factory of engineStores)
  describe(`flows as graphs (${factory.name})`, () => {
    let store: FlowStore;
    beforeEach(async () => {
      store = await factory.create();
    });
    afterEach(() => store.close());

    const run = async (definition: FlowDefinition) => {
      const engine = new FlowEngine({ store, concurrency: 1 });
      const flowId = await engine.startFlow(definition);
      return engine.runToEnd(flowId, definition);
    };

    it('runs a diamond: each step reads the steps it needs, named inputs bound by name', async () => {
      const flow = await run(diamond());
      expect(flow.status).toBe('completed');
      const payloads = await Promise.all(flow.steps.map(async (s) => ((await store.getArtifacts(s.outputs))[0] as { payload: unknown }).payload));
      expect(payloads).toEqual([{ n: 2 }, { n: 2 }, { n: 2 }, { n: 0 }]);
      expect(flow.needs).toEqual([[], [0], [0], [1, 2]]);
      const again = await run(diamond());
      expect(again.flowFingerprint).toBe(flow.flowFingerprint);
      expect(again.steps.map((s) => s.fingerprint)).toEqual(flow.steps.map((s) => s.fingerprint));
    });

    it('gives a step the flow as it stands (ctx.flowSteps): its own step running, the skipped ones skipped', async () => {
      const seen: unknown[] = [];
      const looking: StepModule = { kind: 'transform', version: '1', run: (ctx) => (seen.push(ctx.flowSteps), { outputs: [] }) };
      const base = gated(5);
      const definition = defineFlow('gated', [...base.steps.slice(0, 4), defineStep('report', looking, {}, { needs: ['after', 'other'] })]);
      expect((await run(definition)).status).toBe('completed');
      expect(seen).toEqual([
        [
          { stepId: 'count', needs: [], status: 'FinishedOk', attempts: 1, retryCount: 0, cached: false },
          { stepId: 'expensive', needs: ['count'], status: 'Skipped', attempts: 0, retryCount: 0, cached: false },
          { stepId: 'after', needs: ['expensive'], status: 'Skipped', attempts: 0, retryCount: 0, cached: false },
          { stepId: 'other', needs: [], status: 'FinishedOk', attempts: 1, retryCount: 0, cached: false },
          { stepId: 'report', needs: ['after', 'other'], status: 'Running', attempts: 1, retryCount: 0, cached: false },
        ],
      ]);
    });

    it('skips a step whose condition is false, and the steps that need only it; the flow completes', async () => {
      const skipped = await run(gated(5));
      expect(skipped.status).toBe('completed');
      expect(skipped.steps.map((s) => [s.stepId, s.status])).toEqual([
        ['count', 'FinishedOk'],
        ['expensive', 'Skipped'],
        ['after', 'Skipped'],
        ['other', 'FinishedOk'],
        ['report', 'FinishedOk'],
      ]);
      const events = await store.list(skipped.id);
      expect(events.filter((e) => e.type === 'StepSkipped').map((e) => [e.type === 'StepSkipped' && e.stepId, e.type === 'StepSkipped' && e.reason])).toEqual([
        ['expensive', 'condition'],
        ['after', 'needs-skipped'],
      ]);
      const ran = await run(gated(1));
      expect(ran.steps.map((s) => s.status)).toEqual(['FinishedOk', 'FinishedOk', 'FinishedOk', 'FinishedOk', 'FinishedOk']);
      expect(ran.flowFingerprint).not.toBe(skipped.flowFingerprint);
      expect((await run(gated(5))).flowFingerprint).toBe(skipped.flowFingerprint);
    });

    it('runs independent branches at the same time, up to --concurrency, with the hashes of one at a time', async () => {
      const spans = new Map<string, [number, number]>();
      const slow = (n: number): StepModule => ({
        kind: 'transform',
        version: '1',
        run: async (ctx) => {
          const start = Date.now();
          await new Promise((resolve) => setTimeout(resolve, 150));
          spans.set(ctx.stepId, [start, Date.now()]);
          return { outputs: [{ kind: 'number', payload: { n: n + ctx.input.length } }] };
        },
      });
      const fanOut = defineFlow('fan-out', [
        defineStep('root', number(1)),
        ...[1, 2, 3, 4].map((k) => defineStep(`branch${k}`, slow(k), {}, { needs: ['root'] })),
        defineStep('join', sum, {}, { needs: ['branch1', 'branch2', 'branch3', 'branch4'] }),
      ]);
      const runWith = async (concurrency: number) => {
        spans.clear();
        const engine = new FlowEngine({ store, concurrency });
        const flowId = await engine.startFlow(fanOut);
        const flow = await engine.runToEnd(flowId, fanOut);
        const overlapping = [...spans.values()].filter(([start, end], i, all) => all.some(([s, e], j) => j !== i && s < end && start < e)).length;
        return { flow, overlapping };
      };
      const one = await runWith(1);
      const four = await runWith(4);
      expect(one.flow.status).toBe('completed');
      expect(one.overlapping).toBe(0);
      expect(four.overlapping).toBeGreaterThan(0);
      expect(four.flow.flowFingerprint).toBe(one.flow.flowFingerprint);
      expect(four.flow.steps.map((s) => [s.fingerprint, s.outputs])).toEqual(one.flow.steps.map((s) => [s.fingerprint, s.outputs]));
    });

    it('fails the step, Validation, when its condition names an output that is not there', async () => {
      const flow = await run(
        defineFlow('missing', [defineStep('count', number(3)), defineStep('gated', sum, {}, { when: { step: 'count', output: 'nope', path: '$.n', op: 'exists' } })]),
      );
      expect(flow.status).toBe('failed');
      const [error] = await store.listErrors(flow.id);
      expect([error?.errorClass, error?.details.error_code]).toEqual(['Validation', 'CONDITION_OUTPUT_MISSING']);
      expect(error?.errorMessage).toMatch(/reads count\.nope, but step count has no single output named "nope" \(it has number\)/);
    });
  });
