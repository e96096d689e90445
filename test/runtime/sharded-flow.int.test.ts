// Sharded map steps through FlowEngine on memory, PGlite and PostgreSQL: every hash is the
// unmapped flow's for any shard size, each shard is started, failed, retried and recorded on its own,
// and a retry reruns only the shards that failed.
import { describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import {
  defineFlow,
  FlowEngine,
  PermanentError,
  TransientError,
  type ArtifactDraft,
  type FlowEvent,
  type FlowInstance,
  type FlowStore,
  type MapSpec,
  type StepDefinition,
} from '../../src/index.js';
import { engineStores, storeRunner } from '../support/stores.js';

const items = Array.from({ length: 23 }, (_, i) => ({ id: `m${i}`, value: i * 3 }));

/** What the mapped step saw: one entry per run of it, with its shard and the items it got. */
interface Run {
  shard: { index: number; count: number } | undefined;
  attempt: number;
  ids: string[];
}

/** `fail(run)` may throw to make a shard's attempt fail. */
function flow(map: MapSpec | undefined, runs: Run[], fail: (run: Run) => void = () => undefined): ReturnType<typeof defineFlow> {
  const source: StepDefinition = {
    id: 'read',
    kind: 'source',
    baseParams: {},
    run: () => {
      const outputs: ArtifactDraft[] = [
        { kind: 'test/set', payload: { source: 'inline', items } },
        { kind: 'test/rejected', payload: { rows: [{ line: 4 }] } },
      ];
      return { outputs };
    },
  };
  const square: StepDefinition = {
    id: 'square',
    kind: 'transform',
    baseParams: { unit: 'u²' },
    ...(map === undefined ? {} : { map }),
    run: (ctx) => {
      const set = (ctx.input.find((a) => a.kind === 'test/set') as Artifact | undefined)?.payload as { items: { id: string; value: number }[] };
      const run: Run = { shard: ctx.shard === undefined ? undefined : { ...ctx.shard }, attempt: ctx.attempt, ids: set.items.map((i) => i.id) };
      runs.push(run);
      fail(run);
      const rows = set.items.map((item) => ({ id: item.id, squared: item.value * item.value }));
      return { outputs: [...ctx.input.map((a) => ({ kind: a.kind, payload: (a as Artifact).payload })), { kind: 'test/squares', payload: { unit: 'u²', rows } }] };
    },
  };
  const total: StepDefinition = {
    id: 'total',
    kind: 'sink',
    baseParams: {},
    run: (ctx) => {
      const squares = (ctx.input.find((a) => a.kind === 'test/squares') as Artifact | undefined)?.payload as { rows: { squared: number }[] };
      return { outputs: [{ kind: 'test/total', payload: { total: squares.rows.reduce((sum, r) => sum + r.squared, 0), n: squares.rows.length } }] };
    },
  };
  return defineFlow('sharded', [source, square, total]);
}

const engineOn = (store: FlowStore) =>
  new FlowEngine({ store, concurrency: 3, retryPolicy: { maxRetries: 2, backoff: { kind: 'none' }, retryOn: ['Transient'] } });

async function run(store: FlowStore, definition: ReturnType<typeof defineFlow>): Promise<FlowInstance> {
  const engine = engineOn(store);
  return engine.runToEnd(await engine.startFlow(definition), definition);
}

const summary = (f: FlowInstance): unknown => ({
  flowFingerprint: f.flowFingerprint,
  steps: f.steps.map((s) => [s.stepId, s.status, s.fingerprint, s.outputs]),
});

const shardEvents = (events: readonly FlowEvent[], type: FlowEvent['type']) =>
  events.filter((e) => e.type === type && 'shard' in e && e.shard !== undefined).map((e) => ('shard' in e ? e.shard?.index : -1));

/** Runs per shard index, counting only the runs of a sharded attempt. */
function runsPerShard(runs: readonly Run[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const r of runs) if (r.shard !== undefined) counts.set(r.shard.index, (counts.get(r.shard.index) ?? 0) + 1);
  return counts;
}

describe.each(engineStores)('sharded map steps on $name', { timeout: 180_000 }, ({ create }) => {
  const withStore = storeRunner(create);

  it('gives every hash of the unmapped flow for any shard size, each shard run once with its slice and ctx.shard', async () => {
    await withStore(async (store) => {
      const unmapped = await run(store, flow(undefined, []));
      expect(unmapped.status).toBe('completed');
      for (const shardSize of [1, 7, 23, 1000]) {
        const runs: Run[] = [];
        const sharded = await run(store, flow({ over: 'items', shardSize }, runs));
        expect(summary(sharded), `shardSize ${shardSize}`).toEqual(summary(unmapped));
        const count = Math.ceil(items.length / shardSize);
        expect(runs.map((r) => r.shard?.count)).toEqual(runs.map(() => count));
        expect(runs.map((r) => r.shard?.index).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([...Array(count).keys()]);
        // Each shard got its own slice, in order: together the whole list, once.
        const byShard = [...runs].sort((a, b) => (a.shard?.index ?? 0) - (b.shard?.index ?? 0));
        expect(byShard.flatMap((r) => r.ids)).toEqual(items.map((i) => i.id));
        const events = await store.list(sharded.id);
        expect(events.find((e) => e.type === 'StepStarted' && e.stepId === 'square' && e.shard === undefined)).toMatchObject({ shardCount: count });
        expect(shardEvents(events, 'StepFinished')).toHaveLength(count);
        expect(events.filter((e) => e.type === 'StepFinished' && e.stepId === 'square' && e.shard === undefined)).toHaveLength(1);
      }
    });
  });

  it('retries a shard that failed Transient alone: the other shards ran once, one error row names the shard', async () => {
    await withStore(async (store) => {
      const unmapped = await run(store, flow(undefined, []));
      const runs: Run[] = [];
      const definition = flow({ over: 'items', shardSize: 6 }, runs, (r) => {
        if (r.shard?.index === 2 && r.attempt === 1) throw new TransientError('the cluster node went away');
      });
      const done = await run(store, definition);
      expect(done.status).toBe('completed');
      expect(summary(done)).toEqual(summary(unmapped));
      expect([...runsPerShard(runs).entries()].sort()).toEqual([
        [0, 1],
        [1, 1],
        [2, 2],
        [3, 1],
      ]);
      const errors = await store.listErrors(done.id);
      expect(errors.map((e) => [e.stepId, e.attemptNumber, e.errorClass, e.details.shard])).toEqual([['square', 1, 'Transient', { index: 2, count: 4 }]]);
      const events = await store.list(done.id);
      expect(shardEvents(events, 'RetryScheduled')).toEqual([2]);
      expect(shardEvents(events, 'StepStarted').filter((i) => i === 2)).toHaveLength(2);
    });
  });

  it('fails the flow when a shard fails for good; a retry reruns only that shard and ends as the unmapped flow', async () => {
    await withStore(async (store) => {
      const unmapped = await run(store, flow(undefined, []));
      const runs: Run[] = [];
      let broken = true;
      const definition = flow({ over: 'items', shardSize: 6 }, runs, (r) => {
        if (r.shard?.index === 1 && broken) throw new PermanentError('a malformed record');
      });
      const engine = engineOn(store);
      const failed = await engine.runToEnd(await engine.startFlow(definition), definition);
      expect(failed.status).toBe('failed');
      expect(failed.steps[1]?.status).toBe('Failed');
      // Shards in flight when shard 1 failed recorded their outcome; none started after it.
      const statuses = failed.steps[1]?.shards?.map((s) => s.status) ?? [];
      expect(statuses[1]).toBe('Failed');
      expect(statuses.filter((s) => s === 'Failed' || s === 'Running')).toEqual(['Failed']);
      expect((await store.listFlows()).find((f) => f.flowId === failed.id)?.status).toBe('failed');

      broken = false;
      const retry = await engine.scheduleRetry(failed.id, 'square', { reason: 'fixed the record' });
      expect(retry).toMatchObject({ stepId: 'square', retryIndex: 1, shard: { index: 1, count: 4 } });
      const done = await engine.runToEnd(failed.id, definition);
      expect(done.status).toBe('completed');
      expect(summary(done)).toEqual(summary(unmapped));
      expect([...runsPerShard(runs).entries()].sort()).toEqual([
        [0, 1],
        [1, 2],
        [2, 1],
        [3, 1],
      ]);
      const errors = await store.listErrors(done.id);
      expect(errors.map((e) => [e.errorClass, e.details.shard])).toEqual([['Permanent', { index: 1, count: 4 }]]);
    });
  });
});
