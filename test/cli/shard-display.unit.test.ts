// `status`, `errors` and `events` on a sharded map step, read from a log built by hand and
// appended through a real store: the CLI's display does not wait for the engine to schedule shards.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryFlowStore, type FlowStore } from '../../src/index.js';
import type { CommandContext } from '../../src/cli/context.js';
import { errorsCommand } from '../../src/cli/commands/errors.js';
import { eventsCommand } from '../../src/cli/commands/events.js';
import { statusCommand } from '../../src/cli/commands/status.js';
import {
  artifactOf,
  flowInitialized,
  shardFailed,
  shardFinished,
  shardStarted,
  shardedStepStarted,
  stepFailed,
  stepFinished,
  stepStarted,
} from '../helpers/events.js';
import { storeRunner } from '../support/stores.js';
import { templatePgliteStore } from '../support/pglite-template.js';

const stores = [
  { name: 'memory', create: (): Promise<FlowStore> => Promise.resolve(new MemoryFlowStore()) },
  { name: 'pglite', create: (): Promise<FlowStore> => templatePgliteStore() },
];

/**
 * load finished; score started in 3 shards: shard 0 finished, shard 1 failed (Transient), shard 2
 * still running. The step is Failed while its shard is.
 */
async function shardedFlow(store: FlowStore): Promise<string> {
  const flowId = randomUUID();
  const loaded = artifactOf({ molecules: ['C', 'CC', 'CCC'], id: randomUUID() });
  const first = artifactOf({ molecules: ['C'], id: randomUUID() });
  const of3 = (index: number) => ({ index, count: 3 });
  await store.append(
    flowId,
    0,
    [
      flowInitialized('sharded'),
      stepStarted(0),
      stepFinished(0, [loaded.hash]),
      shardedStepStarted(1, 3),
      shardStarted(1, of3(0)),
      shardStarted(1, of3(1)),
      shardFinished(1, of3(0), [first.hash]),
      shardStarted(1, of3(2)),
      shardFailed(1, of3(1), { message: 'provider busy' }),
    ],
    { artifacts: [loaded, first] },
  );
  return flowId;
}

/** A flow with no map step, failed once: what every flow looked like before shards. */
async function plainFlow(store: FlowStore): Promise<string> {
  const flowId = randomUUID();
  await store.append(flowId, 0, [flowInitialized('plain'), stepStarted(0), stepFailed(0, { message: 'disk full' })]);
  return flowId;
}

/** Runs a command on `store` and returns what it printed and its exit code. */
async function printed(store: FlowStore, command: (ctx: CommandContext) => Promise<number>): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const ctx: CommandContext = {
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true }, env: {}, cwd: process.cwd() },
    db: '(test store)',
    store,
  };
  const code = await command(ctx);
  return { code, text: out.join('') };
}

describe.each(stores)('the shards of a mapped step in the CLI ($name)', ({ create }) => {
  const withStore = storeRunner(create);

  it('status --json counts each step’s shards, null for a step that runs whole', () =>
    withStore(async (store) => {
      const flowId = await shardedFlow(store);
      const { code, text } = await printed(store, (ctx) => statusCommand(ctx, flowId, { json: true }));
      expect(code).toBe(0);
      const report = JSON.parse(text) as { steps: { stepId: string; status: string; shards: unknown }[] };
      expect(report.steps.map((s) => [s.stepId, s.status, s.shards])).toEqual([
        ['load', 'FinishedOk', null],
        ['score', 'Failed', { total: 3, finished: 1, failed: 1, running: 1 }],
        ['report', 'Pending', null],
      ]);
    }));

  it('status shows shards done of all in a SHARDS column, only for a flow with a sharded step', () =>
    withStore(async (store) => {
      const sharded = await printed(store, async (ctx) => statusCommand(ctx, await shardedFlow(store), {}));
      expect(sharded.text).toMatch(/^STEP\s+STATUS\s+ATTEMPTS\s+RETRIES\s+SHARDS\s+FINGERPRINT$/m);
      expect(sharded.text).toMatch(/^load\s+FinishedOk\s+1\s+0\s+-\s+[0-9a-f]{16}$/m);
      expect(sharded.text).toMatch(/^score\s+Failed\s+1\s+0\s+1\/3, 1 failed\s+[0-9a-f]{16}$/m);
      const plain = await printed(store, async (ctx) => statusCommand(ctx, await plainFlow(store), {}));
      expect(plain.text).toMatch(/^STEP\s+STATUS\s+ATTEMPTS\s+RETRIES\s+FINGERPRINT$/m);
      expect(plain.text).not.toContain('SHARDS');
    }));

  it('errors --json gives the failed shard of each entry, null for a step that ran whole', () =>
    withStore(async (store) => {
      const flowId = await shardedFlow(store);
      const { text } = await printed(store, (ctx) => errorsCommand(ctx, flowId, { json: true }));
      expect(JSON.parse(text)).toMatchObject([
        { stepId: 'score', attemptNumber: 1, errorMessage: 'provider busy', shard: { index: 1, count: 3 }, details: { shard: { index: 1, count: 3 } } },
      ]);
      const plainId = await plainFlow(store);
      const plain = await printed(store, (ctx) => errorsCommand(ctx, plainId, { json: true }));
      expect(JSON.parse(plain.text)).toMatchObject([{ stepId: 'load', shard: null }]);
    }));

  it('errors shows the shard in a SHARD column, only when a shard failed', () =>
    withStore(async (store) => {
      const sharded = await printed(store, async (ctx) => errorsCommand(ctx, await shardedFlow(store), {}));
      expect(sharded.text).toMatch(/^STEP\s+SHARD\s+ATTEMPT\s+CLASS/m);
      expect(sharded.text).toMatch(/^score\s+shard 1\/3\s+1\s+Transient\s+E_TEST\s/m);
      const plain = await printed(store, async (ctx) => errorsCommand(ctx, await plainFlow(store), {}));
      expect(plain.text).toMatch(/^STEP\s+ATTEMPT\s+CLASS/m);
      expect(plain.text).not.toContain('SHARD');
    }));

  it('events shows the shard of each shard event and the shard count of the step’s start; --json keeps them as stored', () =>
    withStore(async (store) => {
      const flowId = await shardedFlow(store);
      const { text } = await printed(store, (ctx) => eventsCommand(ctx, flowId, {}));
      expect(text).toMatch(/^#\s+TIME\s+TYPE\s+STEP\s+SHARD\s+ATTEMPT\s+DETAIL$/m);
      expect(text).toMatch(/^4\s+\S+\s+StepStarted\s+score\s+1\s+split into 3 shard\(s\)$/m);
      expect(text).toMatch(/^5\s+\S+\s+StepStarted\s+score\s+shard 0\/3\s+1$/m);
      expect(text).toMatch(/^7\s+\S+\s+StepFinished\s+score\s+shard 0\/3\s+1\s+1 output\(s\)/m);
      expect(text).toMatch(/^9\s+\S+\s+StepFailed\s+score\s+shard 1\/3\s+1\s+Transient E_TEST: provider busy$/m);
      // A step event outside the shards leaves the column empty.
      expect(text).toMatch(/^3\s+\S+\s+StepFinished\s+load\s+1\s+1 output\(s\)/m);

      const json = await printed(store, (ctx) => eventsCommand(ctx, flowId, { json: true }));
      const events = JSON.parse(json.text) as Record<string, unknown>[];
      expect(events.map((e) => [e.type, e.shardCount, e.shard])).toEqual([
        ['FlowInitialized', undefined, undefined],
        ['StepStarted', undefined, undefined],
        ['StepFinished', undefined, undefined],
        ['StepStarted', 3, undefined],
        ['StepStarted', undefined, { index: 0, count: 3 }],
        ['StepStarted', undefined, { index: 1, count: 3 }],
        ['StepFinished', undefined, { index: 0, count: 3 }],
        ['StepStarted', undefined, { index: 2, count: 3 }],
        ['StepFailed', undefined, { index: 1, count: 3 }],
      ]);
      const plain = await printed(store, async (ctx) => eventsCommand(ctx, await plainFlow(store), {}));
      expect(plain.text).toMatch(/^#\s+TIME\s+TYPE\s+STEP\s+ATTEMPT\s+DETAIL$/m);
    }));
});
