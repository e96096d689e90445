// The step cache index (AppendOptions.cacheEntry, lookupCache, cacheStats, pruneCache): one suite that
// memory, PGlite and the PostgreSQL server must pass alike. The store is shared by the tests, so each
// uses its own keys and step types, and checks statistics as differences.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchArtifact, FileArtifact, StoredArtifact } from '../../src/core/artifact.js';
import { ConcurrencyError, StoreError } from '../../src/core/errors.js';
import type { NewFlowEvent } from '../../src/core/events.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import type { CacheEntryInput } from '../../src/stores/step-cache-index.js';
import { artifactOf, flowInitialized, hashOf, nextTs, stepFinished, stepStarted } from '../helpers/events.js';

const uniqueKey = (): string => hashOf(`cache-key:${randomUUID()}`);
const uniqueType = (): string => `test/${randomUUID()}`;

function cachedFinish(stepIndex: number, outputs: readonly string[], source: { flowId: string; stepId: string }): NewFlowEvent {
  return { ...stepFinished(stepIndex, outputs), cachedFrom: source } as NewFlowEvent;
}

export function describeStepCacheContract(name: string, open: () => Promise<FlowStore>): void {
  describe(`step cache index contract: ${name}`, () => {
    let store: FlowStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store?.close();
    });

    /** A new flow whose step 0 finished with `outputs`, recorded as a cache source under `entry`. */
    async function source(outputs: readonly StoredArtifact[], entry: Omit<CacheEntryInput, 'stepIndex'>): Promise<string> {
      const flowId = randomUUID();
      const hashes = outputs.map((a) => a.hash);
      await store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, hashes)], {
        artifacts: outputs,
        cacheEntry: { ...entry, stepIndex: 0 },
      });
      return flowId;
    }

    it('writes the entry with the StepFinished it names: flow, step id and outputs come from the event', async () => {
      const key = uniqueKey();
      const stepType = uniqueType();
      const outputs = [artifactOf({ a: randomUUID() }), artifactOf({ b: randomUUID() })];
      const before = Date.now();
      const flowId = await source(outputs, { key, stepType });
      const entry = await store.lookupCache(key);
      expect(entry).toEqual({ key, flowId, stepId: 'load', stepType, outputs: outputs.map((a) => a.hash), createdAt: expect.any(String) });
      // Database and process clocks may differ a little: the timestamp is recent, not exact.
      expect(Math.abs(Date.parse(entry?.createdAt ?? '') - before)).toBeLessThan(60_000);
      expect(await store.lookupCache(uniqueKey())).toBeNull();
    });

    it('writes nothing with a stale append', async () => {
      const key = uniqueKey();
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized(), stepStarted(0)]);
      const stale = store.append(flowId, 1, [stepFinished(0, [])], { cacheEntry: { key, stepIndex: 0, stepType: uniqueType() } });
      await expect(stale).rejects.toBeInstanceOf(ConcurrencyError);
      expect(await store.lookupCache(key)).toBeNull();
    });

    it('refuses an entry without a clean StepFinished at its index, or with a bad key, and writes nothing', async () => {
      const flowId = randomUUID();
      const key = uniqueKey();
      const other = { flowId: randomUUID(), stepId: 'load' };
      const refused = [
        store.append(flowId, 0, [flowInitialized(), stepStarted(0)], { cacheEntry: { key, stepIndex: 0, stepType: 't' } }),
        store.append(flowId, 0, [flowInitialized(), cachedFinish(0, [], other)], { cacheEntry: { key, stepIndex: 0, stepType: 't' } }),
        store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [])], { cacheEntry: { key, stepIndex: 1, stepType: 't' } }),
        store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [])], { cacheEntry: { key: 'x', stepIndex: 0, stepType: 't' } }),
      ];
      for (const append of refused) await expect(append).rejects.toBeInstanceOf(StoreError);
      expect(await store.list(flowId)).toEqual([]);
      expect(await store.lookupCache(key)).toBeNull();
    });

    it('never takes a cancelled flow as a source', async () => {
      const flowId = randomUUID();
      const key = uniqueKey();
      await store.append(flowId, 0, [flowInitialized(), stepStarted(0)]);
      await store.append(flowId, 2, [{ type: 'FlowCancelled', ts: nextTs(), reason: 'test' }]);
      await store.append(flowId, 3, [stepFinished(0, [])], { cacheEntry: { key, stepIndex: 0, stepType: uniqueType() } });
      expect((await store.list(flowId)).map((e) => e.type)).toContain('StepFinished');
      expect(await store.lookupCache(key)).toBeNull();
    });

    it('a newer source of the same key replaces the older one', async () => {
      const key = uniqueKey();
      const stepType = uniqueType();
      await source([artifactOf({ old: randomUUID() })], { key, stepType });
      const newer = artifactOf({ newer: randomUUID() });
      const flowId = await source([newer], { key, stepType });
      expect(await store.lookupCache(key)).toMatchObject({ flowId, outputs: [newer.hash] });
    });

    it('counts hits, entries and the bytes of the distinct artifacts entries name', async () => {
      const before = await store.cacheStats();
      const shared = artifactOf({ shared: randomUUID(), padding: 'x'.repeat(200) });
      const sourceFlow = await source([shared], { key: uniqueKey(), stepType: uniqueType() });
      const afterOne = await store.cacheStats();
      expect(afterOne.entries - before.entries).toBe(1);
      const bytes = afterOne.artifactBytes - before.artifactBytes;
      expect(bytes).toBeGreaterThanOrEqual(JSON.stringify(shared.payload).length);
      await source([shared], { key: uniqueKey(), stepType: uniqueType() });
      const afterTwo = await store.cacheStats();
      expect(afterTwo.entries - before.entries).toBe(2);
      expect(afterTwo.artifactBytes - before.artifactBytes).toBe(bytes); // the same artifact is counted once
      expect(afterTwo.hits).toBe(before.hits);
      await store.append(randomUUID(), 0, [flowInitialized(), cachedFinish(0, [shared.hash], { flowId: sourceFlow, stepId: 'load' })]);
      expect((await store.cacheStats()).hits - before.hits).toBe(1);
    });

    it('counts a batch by the bytes of its chunks and a file by its size', async () => {
      const before = await store.cacheStats();
      const chunks = [
        { hash: hashOf(`chunk:${randomUUID()}`), rows: 2, bytes: 100 },
        { hash: hashOf(`chunk:${randomUUID()}`), rows: 5, bytes: 250 },
      ];
      const batch: BatchArtifact = {
        form: 'batch',
        kind: 'test/rows',
        hash: hashOf(`batch:${randomUUID()}`),
        manifest: { rowsField: 'rows', header: { source: 'test' }, rowCount: 7, chunks },
      };
      // A file is counted where the store keeps files (not by a PostgreSQL server without a blob directory).
      const file: FileArtifact = { form: 'file', kind: 'chem/sdf', hash: hashOf(`file:${randomUUID()}`), size: 1234, name: 'out.sdf' };
      const outputs = store.blobs.keepsFiles ? [batch, file] : [batch];
      await source(outputs, { key: uniqueKey(), stepType: uniqueType() });
      const after = await store.cacheStats();
      expect(after.artifactBytes - before.artifactBytes).toBe(350 + (store.blobs.keepsFiles ? 1234 : 0));
    });

    it('prunes by step type and by age, touching neither the log nor the artifacts', async () => {
      const stepType = uniqueType();
      const kept = uniqueType();
      const output = artifactOf({ pruned: randomUUID() });
      const keys = [uniqueKey(), uniqueKey(), uniqueKey()];
      const flowId = await source([output], { key: keys[0]!, stepType });
      await source([output], { key: keys[1]!, stepType });
      await source([artifactOf({ kept: randomUUID() })], { key: keys[2]!, stepType: kept });
      const log = await store.list(flowId);
      const hourAgo = new Date(Date.now() - 3_600_000);
      const inAnHour = new Date(Date.now() + 3_600_000);
      expect(await store.pruneCache({ olderThan: hourAgo, stepType })).toBe(0);
      expect(await store.pruneCache({ stepType: uniqueType() })).toBe(0);
      expect(await store.pruneCache({ olderThan: inAnHour, stepType })).toBe(2);
      expect(await store.lookupCache(keys[0]!)).toBeNull();
      expect(await store.lookupCache(keys[1]!)).toBeNull();
      expect(await store.lookupCache(keys[2]!)).not.toBeNull();
      expect(await store.pruneCache({ stepType: kept })).toBe(1);
      expect(await store.list(flowId)).toEqual(log);
      expect(await store.getArtifacts([output.hash])).toEqual([output]);
    });
  });
}
