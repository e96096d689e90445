import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createArtifact } from '../../src/core/artifact.js';
import { defineStep, withCacheForced, defineFlow, type StepModule } from '../../src/core/definition.js';
import type { NewFlowEvent } from '../../src/core/events.js';
import { replay } from '../../src/core/reducer.js';
import { FlowEngine } from '../../src/runtime/engine.js';
import { cacheEntryFor, cacheKeyFor, findCached, planStepCache } from '../../src/runtime/step-cache.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { flowInitialized, hashOf, shapeOf, stepStarted, stepFinished } from '../helpers/events.js';
import { tamperArtifact } from '../helpers/tamper.js';
import { engineStores, storeRunner } from '../support/stores.js';

const module: StepModule = { kind: 'source', version: '1', run: () => ({ outputs: [] }) };
const opts = { baseDir: '/tmp' };

describe('cacheKeyFor', () => {
  it('is null unless the cache is on and the module cacheable', async () => {
    expect(await cacheKeyFor(defineStep('a', module, {}), [], opts)).toBeNull();
    expect(await cacheKeyFor(defineStep('a', module, {}, { uses: 't/a' }), [], opts)).toBeNull();
    expect(await cacheKeyFor(defineStep('a', { ...module, cacheable: false }, {}, { uses: 't/a', cache: true }), [], opts)).toBeNull();
    expect(await cacheKeyFor(defineStep('a', module, {}, { uses: 't/a', cache: true }), [], opts)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on the step id, but on the type, version, params, inputs, code and hook', async () => {
    const key = (id: string, m: StepModule, params: object, inputs: string[] = [hashOf('in')], codeHash?: string) =>
      cacheKeyFor(defineStep(id, m, params, { uses: 't/a', cache: true, ...(codeHash ? { codeHash } : {}) }), inputs, opts);
    const base = await key('a', module, { n: 1 });
    expect(await key('another-id', module, { n: 1 })).toBe(base);
    const changed = await Promise.all([
      key('a', { ...module, version: '2' }, { n: 1 }),
      key('a', module, { n: 2 }),
      key('a', module, { n: 1 }, [hashOf('other')]),
      key('a', module, { n: 1 }, [hashOf('in')], hashOf('code')),
      key('a', { ...module, cacheKey: () => ({ file: 'abc' }) }, { n: 1 }),
    ]);
    expect(changed).not.toContain(base);
    expect(new Set(changed).size).toBe(changed.length);
  });

  it('passes params and context to the hook; a hook that throws means no cache', async () => {
    const seen: unknown[] = [];
    const hooked: StepModule = { ...module, cacheKey: (params, ctx) => (seen.push([params, ctx.baseDir, ctx.inputHashes]), 'x') };
    await cacheKeyFor(defineStep('a', hooked, { n: 1 }, { uses: 't/a', cache: true }), [hashOf('in')], opts);
    expect(seen).toEqual([[{ n: 1 }, '/tmp', [hashOf('in')]]]);
    const failing: StepModule = { ...module, cacheKey: () => Promise.reject(new Error('file gone')) };
    expect(await cacheKeyFor(defineStep('a', failing, {}, { uses: 't/a', cache: true }), [], opts)).toBeNull();
  });

  it('a cacheKey hook that never settles is step code of the attempt: the attempt ends at its timeout and run never starts', async () => {
    let ran = 0;
    const hanging: StepModule = { kind: 'transform', cacheKey: () => new Promise(() => undefined), run: () => ((ran += 1), { outputs: [] }) };
    const seed: StepModule = { kind: 'source', run: () => ({ outputs: [{ kind: 'n', payload: 1 }] }) };
    const flow = defineFlow('hang', [defineStep('seed', seed), defineStep('key', hanging, {}, { uses: 't/key', cache: true, timeoutMs: 200, retry: { maxRetries: 0, backoff: { kind: 'none' } } })]);
    const started = Date.now();
    const done = await new FlowEngine({ store: new MemoryFlowStore() }).runToEnd(randomUUID(), flow);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(done.steps[1]).toMatchObject({ status: 'Failed', errors: [{ errorClass: 'Transient', code: 'TIMEOUT' }] });
    expect(ran).toBe(0);
  });

  it('follows --cache / --no-cache', async () => {
    const flow = defineFlow('f', [defineStep('a', module, {}, { uses: 't/a', cache: false })]);
    expect(await cacheKeyFor(withCacheForced(flow, true).steps[0]!, [], opts)).not.toBeNull();
    expect(await cacheKeyFor(withCacheForced(flow, false).steps[0]!, [], opts)).toBeNull();
  });
});

describe.each(engineStores)('findCached on $name', ({ create }) => {
  const withStore = storeRunner(create);
  const step = defineStep('load', module, {}, { uses: 't/load', cache: true });

  /** A flow whose step 0 ran with the cache on and produced `payloads`; returns its id and key. */
  async function sourceFlow(store: FlowStore, payloads: unknown[], options: { storeArtifacts?: boolean } = {}) {
    const flowId = randomUUID();
    const key = hashOf(`key:${randomUUID()}`);
    const artifacts = payloads.map((payload) => createArtifact({ kind: 'test', payload: payload as never }));
    await store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, artifacts.map((a) => a.hash))], {
      ...(options.storeArtifacts === false ? {} : { artifacts }),
      cacheEntry: cacheEntryFor(step, 0, key)!,
    });
    return { flowId, key, artifacts };
  }

  it('hits with the verified artifacts; the cached finish replays with the same outputs and cachedFrom', async () => {
    await withStore(async (store) => {
      const { flowId, key, artifacts } = await sourceFlow(store, [{ smiles: 'CCO', n: randomUUID() }]);
      const hit = await findCached(store, key);
      expect(hit).toEqual({ key, source: { flowId, stepId: 'load' }, outputs: artifacts.map((a) => a.hash), artifacts });
      expect(await findCached(store, hashOf('never written'))).toBeNull();

      const next = randomUUID();
      const finished: NewFlowEvent = {
        type: 'StepFinished',
        stepIndex: 0,
        stepId: 'load',
        attempt: 1,
        outputs: hit!.outputs,
        fingerprint: hashOf('fingerprint:0'),
        cachedFrom: hit!.source,
        ts: new Date().toISOString(),
      };
      const events: NewFlowEvent[] = [flowInitialized(), finished];
      await store.append(next, 0, events);
      const flow = replay(next, await store.list(next), shapeOf());
      expect(flow.steps[0]).toMatchObject({ status: 'FinishedOk', outputs: hit!.outputs, cachedFrom: { flowId, stepId: 'load' }, attempts: 0 });
      expect((await store.cacheStats()).hits).toBe(1);
    });
  });

  it('misses when a source artifact was tampered with, or is missing', async () => {
    await withStore(async (store) => {
      const tampered = await sourceFlow(store, [{ n: randomUUID() }, { m: randomUUID() }]);
      await tamperArtifact(store, tampered.artifacts[1]!.hash, { m: 'changed' });
      expect(await store.lookupCache(tampered.key)).not.toBeNull();
      expect(await findCached(store, tampered.key)).toBeNull();
      const missing = await sourceFlow(store, [{ gone: randomUUID() }], { storeArtifacts: false });
      expect(await store.lookupCache(missing.key)).not.toBeNull();
      expect(await findCached(store, missing.key)).toBeNull();
    });
  });
});

describe.each(engineStores)('planStepCache on $name', ({ create }) => {
  const withStore = storeRunner(create);
  const seeded = defineStep('score', { ...module, kind: 'transform' }, { n: 1 }, { uses: 't/score', cache: true });

  it('keys step i on step i-1 outputs, finds the entry of another flow with another step id, and skips a step with the cache off', async () => {
    await withStore(async (store) => {
      const input = createArtifact({ kind: 'test', payload: { input: randomUUID() } });
      const output = createArtifact({ kind: 'test', payload: { output: randomUUID() } });
      // Flow A: step 1 ("score") ran with the cache on and recorded its entry.
      const a = randomUUID();
      const aEvents: NewFlowEvent[] = [flowInitialized(), stepStarted(0), stepFinished(0, [input.hash]), stepStarted(1)];
      await store.append(a, 0, aEvents, { artifacts: [input] });
      const aFlow = replay(a, await store.list(a), shapeOf());
      const planA = await planStepCache(store, seeded, aFlow, 1, opts);
      expect(planA.hit).toBeNull();
      expect(planA.key).toMatch(/^[0-9a-f]{64}$/);
      await store.append(a, 4, [stepFinished(1, [output.hash])], { artifacts: [output], cacheEntry: cacheEntryFor(seeded, 1, planA.key!)! });

      // Flow B: same input at step 0, a step of another id at index 1: a hit from flow A.
      const b = randomUUID();
      await store.append(b, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [input.hash])]);
      const bFlow = replay(b, await store.list(b), shapeOf());
      const renamed = defineStep('renamed', { ...module, kind: 'transform' }, { n: 1 }, { uses: 't/score', cache: true });
      const planB = await planStepCache(store, renamed, bFlow, 1, opts);
      expect(planB).toMatchObject({ key: planA.key, hit: { source: { flowId: a, stepId: 'score' }, outputs: [output.hash] } });

      const off = defineStep('score', { ...module, kind: 'transform' }, { n: 1 }, { uses: 't/score' });
      expect(await planStepCache(store, off, bFlow, 1, opts)).toEqual({ key: null, hit: null });
    });
  });
});
