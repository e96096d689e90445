// GroupCommitter on the real databases: PGlite always, the PostgreSQL server when it is there.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyError } from '../../src/core/errors.js';
import { GroupCommitter } from '../../src/runtime/group-commit.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { createTestSchema, describeWithPg, type TestSchema } from '../helpers/pg.js';
import { flowInitialized, stepFinished, stepStarted } from '../helpers/events.js';
import { templatePgliteStore } from '../support/pglite-template.js';

function groupCommitSuite(name: string, open: () => Promise<{ store: FlowStore; close: () => Promise<void> }>): void {
  describe(`GroupCommitter on ${name}`, () => {
    let store: FlowStore;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(async () => {
      await close?.();
    });

    it('batches concurrent flows stepping at once, keeping every flow in order and durable', async () => {
      const committer = new GroupCommitter(store);
      const flows: string[] = Array.from({ length: 8 }, () => randomUUID());
      const steps = 10;
      const runFlow = async (id: string): Promise<void> => {
        let { version } = await committer.append(id, 0, [flowInitialized('grouped')]);
        for (let attempt = 1; attempt <= steps; attempt++)
          ({ version } = await committer.append(id, version, [stepStarted(0, attempt), stepFinished(0, [], attempt)]));
      };
      await Promise.all(flows.map(runFlow));
      for (const id of flows) {
        const events = await store.list(id);
        expect(events.map((e) => e.version)).toEqual(Array.from({ length: 1 + 2 * steps }, (_, i) => i + 1));
        expect(events.filter((e) => e.type === 'StepStarted').map((e) => (e.type === 'StepStarted' ? e.attempt : 0))).toEqual(
          Array.from({ length: steps }, (_, i) => i + 1),
        );
      }
      const rows = (await store.listFlows({ name: 'grouped', limit: 100 })).filter((r) => flows.includes(r.flowId));
      expect(rows.map((r) => r.version)).toEqual(flows.map(() => 1 + 2 * steps));
      const { appends, batches, largestBatch } = committer.stats;
      expect(appends).toBe(flows.length * (steps + 1));
      expect(batches).toBeLessThan(appends / 2);
      expect(largestBatch).toBeGreaterThan(1);
    });

    it("fails only the stale caller of a batch; the other flows' appends are durable", async () => {
      const committer = new GroupCommitter(store);
      const stale = randomUUID();
      await store.append(stale, 0, [flowInitialized(), stepStarted(0)]);
      const others = [randomUUID(), randomUUID(), randomUUID()];
      const results = await Promise.allSettled([
        committer.append(others[0] as string, 0, [flowInitialized()]),
        committer.append(stale, 1, [stepStarted(0, 2)]),
        ...others.slice(1).map((id) => committer.append(id, 0, [flowInitialized()])),
      ]);
      expect(committer.stats.batches).toBe(1);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
      for (const id of others) expect((await store.list(id)).map((e) => e.version)).toEqual([1]);
      expect((await store.list(stale)).map((e) => e.version)).toEqual([1, 2]);
    });
  });
}

groupCommitSuite('PGlite', async () => {
  const store = await templatePgliteStore();
  return { store, close: () => store.close() };
});

describeWithPg('PostgreSQL server', () => {
  groupCommitSuite('PostgreSQL', async () => {
    const schema: TestSchema = await createTestSchema('group_commit');
    const store = await schema.openStore();
    return {
      store,
      close: async () => {
        await store.close();
        await schema.drop();
      },
    };
  });
});
