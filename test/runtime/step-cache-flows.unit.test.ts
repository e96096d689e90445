// The step cache end to end through FlowEngine, on memory, PGlite and PostgreSQL.
import { describe, expect, it } from 'vitest';
import type { FlowInstance } from '../../src/core/flow-state.js';
import { cachedStepsOf } from '../../src/runtime/step-cache.js';
import { tamperArtifact } from '../helpers/tamper.js';
import { countingFlow, runWithCache } from '../support/cache-flows.js';
import { engineStores, storeRunner } from '../support/stores.js';

const counts = (runs: Map<string, number>) => ['s1', 's2', 's3', 's4', 's5'].map((t) => runs.get(t) ?? 0);
const cachedOf = (flow: FlowInstance) => flow.steps.map((s) => s.cachedFrom !== null);
const fingerprints = (flow: FlowInstance) => ({ steps: flow.steps.map((s) => s.fingerprint), outputs: flow.steps.map((s) => s.outputs), flow: flow.flowFingerprint });

describe.each(engineStores)('step cache flows on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('a second run with cache: true runs no step, with the same fingerprints, hashes and flow fingerprint', async () => {
    await withStore(async (store) => {
      const runs = new Map<string, number>();
      const first = await runWithCache(store, countingFlow(runs));
      expect(counts(runs)).toEqual([1, 1, 1, 1, 1]);
      const second = await runWithCache(store, countingFlow(runs));
      expect(counts(runs)).toEqual([1, 1, 1, 1, 1]);
      expect(cachedOf(second)).toEqual([true, true, true, true, true]);
      expect(second.steps[2]?.cachedFrom).toEqual({ flowId: first.id, stepId: 's3' });
      expect(second.status).toBe('completed');
      expect(fingerprints(second)).toEqual(fingerprints(first));
      // Without the cache, a full run gives the same again.
      const uncached = await runWithCache(store, countingFlow(runs, { cache: false }));
      expect(counts(runs)).toEqual([2, 2, 2, 2, 2]);
      expect(fingerprints(uncached)).toEqual(fingerprints(first));
      expect((await store.cacheStats()).hits).toBe(5);
    });
  });

  it('changing the params of step 3 of 5 reruns steps 3 to 5 only; changing a version reruns it and what follows', async () => {
    await withStore(async (store) => {
      const runs = new Map<string, number>();
      await runWithCache(store, countingFlow(runs));
      const changed = await runWithCache(store, countingFlow(runs, { add: { s3: 30 } }));
      expect(counts(runs)).toEqual([1, 1, 2, 2, 2]);
      expect(cachedOf(changed)).toEqual([true, true, false, false, false]);
      expect(cachedStepsOf(changed).map((s) => s.stepId)).toEqual(['s1', 's2']);
      const bumped = await runWithCache(store, countingFlow(runs, { add: { s3: 30 }, version: { s4: '2' } }));
      expect(counts(runs)).toEqual([1, 1, 2, 3, 3]);
      expect(cachedOf(bumped)).toEqual([true, true, true, false, false]);
    });
  });

  it('shares entries across step ids; cacheable: false always runs', async () => {
    await withStore(async (store) => {
      const runs = new Map<string, number>();
      await runWithCache(store, countingFlow(runs, { uncacheable: ['s2'] }));
      const renamed = await runWithCache(store, countingFlow(runs, { uncacheable: ['s2'], ids: ['a', 'b', 'c', 'd', 'e'] }));
      // s2 runs again and gives the same output, so s3..s5 still hit under other step ids.
      expect(counts(runs)).toEqual([1, 2, 1, 1, 1]);
      expect(cachedOf(renamed)).toEqual([true, false, true, true, true]);
    });
  });

  it('a tampered source artifact is never used: the step runs, as long as the stored artifact stays changed', async () => {
    await withStore(async (store) => {
      const runs = new Map<string, number>();
      const first = await runWithCache(store, countingFlow(runs));
      await tamperArtifact(store, first.steps[3]!.outputs[0]!, { n: -1 });
      const second = await runWithCache(store, countingFlow(runs));
      expect(counts(runs)).toEqual([1, 1, 1, 2, 1]);
      expect(cachedOf(second)).toEqual([true, true, true, false, true]);
      expect(second.steps[3]?.outputs).toEqual(first.steps[3]?.outputs);
      // The run's clean finish replaced the entry, but names the same content: the stored row is still
      // the changed one (artifacts are append-only, deduplicated by hash), so it is still not used.
      const third = await runWithCache(store, countingFlow(runs));
      expect(counts(runs)).toEqual([1, 1, 1, 3, 1]);
      expect(cachedOf(third)).toEqual([true, true, true, false, true]);
      expect(second.steps[4]?.cachedFrom).toEqual({ flowId: first.id, stepId: 's5' });
    });
  });
});
