// A shard whose worker died after another shard failed the flow for good: once its lease expired a
// worker claims it and records its attempt lost (WORKER_LOST) once, with no retry, and no other shard
// of the failed flow starts.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initializedEvent } from '../../src/core/decide.js';
import { resolveStepPolicies } from '../../src/core/step-policy.js';
import { defineFlow, FlowWorker, type FlowStore, type NewFlowEvent, type StepDefinition } from '../../src/index.js';
import { engineStores } from '../support/stores.js';

const RETRY = { maxRetries: 2, backoff: { kind: 'none' as const } };
const H = (n: number): string => n.toString(16).padStart(64, '0');

let ran = 0;
const step = (id: string, kind: StepDefinition['kind'], extra: Partial<StepDefinition> = {}): StepDefinition => ({
  id,
  kind,
  baseParams: {},
  run: () => {
    ran += 1;
    return { outputs: [] };
  },
  ...extra,
});
const definition = defineFlow('mapped', [step('a', 'source'), step('b', 'transform', { map: { over: 'items', shardSize: 1 } }), step('c', 'sink')]);

for (const factory of engineStores)
  describe(`a shard of a failed flow (${factory.name})`, { timeout: 120_000 }, () => {
    let store: FlowStore;
    beforeEach(async () => {
      store = await factory.create();
    });
    afterEach(() => store.close());

    it('whose holder died is recorded lost once, with no retry, by the worker that claims it; no other shard starts', async () => {
      const flowId = randomUUID();
      const ts = (): string => new Date().toISOString();
      const shard = (index: number) => ({ index, count: 3 });
      const at = (body: object): NewFlowEvent => ({ ...body, ts: ts() }) as NewFlowEvent;
      await store.append(flowId, 0, [
        at(initializedEvent(definition, {}, resolveStepPolicies(definition, RETRY))),
        at({ type: 'StepStarted', stepIndex: 0, stepId: 'a', attempt: 1 }),
        at({ type: 'StepFinished', stepIndex: 0, stepId: 'a', attempt: 1, outputs: [], fingerprint: H(1) }),
        at({ type: 'StepStarted', stepIndex: 1, stepId: 'b', attempt: 1, shardCount: 3 }),
      ]);
      await store.openShards(flowId, 1, 3, [0, 1, 2].map((index) => ({ index, due: 'now' as const })));
      // Shard 0's worker claims and starts it, then dies: its lease runs out. Shard 1 fails for good.
      const [held] = await store.claimShards('ghost', { limit: 1, leaseMs: 300, flowId });
      expect(held?.shardIndex).toBe(0);
      await store.append(flowId, 4, [
        at({ type: 'StepStarted', stepIndex: 1, stepId: 'b', attempt: 1, shard: shard(0) }),
        at({ type: 'StepStarted', stepIndex: 1, stepId: 'b', attempt: 1, shard: shard(1) }),
        at({
          type: 'StepFailed', stepIndex: 1, stepId: 'b', attempt: 1, errorClass: 'Permanent', error: { code: 'BROKEN', message: 'broken' },
          details: {}, fingerprint: H(2), retryCount: 0, maxRetries: 2, shard: shard(1),
        }),
      ]);
      expect((await store.listFlows()).find((f) => f.flowId === flowId)?.status).toBe('failed');

      ran = 0;
      const worker = new FlowWorker({ store, resolve: () => Promise.resolve({ definition, retryPolicy: RETRY }), owner: 'heir', pollMs: 20 });
      const outcomes = await worker.run({ untilIdle: true });
      expect(outcomes).toEqual([{ kind: 'shard', flowId, stepIndex: 1, shardIndex: 0, end: 'failed' }]);
      expect(ran).toBe(0);
      const events = await store.list(flowId);
      const after = events.slice(7).map((e) => [e.type, 'shard' in e ? e.shard?.index : undefined, e.type === 'StepFailed' ? e.error.code : undefined]);
      expect(after).toEqual([['StepFailed', 0, 'WORKER_LOST']]);
      const errors = await store.listErrors(flowId);
      expect(errors.map((e) => [e.errorClass, e.details.error_code]).sort()).toEqual([
        ['Permanent', 'BROKEN'],
        ['Transient', 'WORKER_LOST'],
      ]);
      expect(errors.find((e) => e.details.error_code === 'WORKER_LOST')?.details.shard).toMatchObject({ index: 0, count: 3 });
      expect((await store.listFlows()).find((f) => f.flowId === flowId)?.status).toBe('failed');
      expect(await store.hasOpenShards()).toBe(false);
    });
  });
