// A graph's branches as work items: two workers run two branches of one flow at the same time, a
// branch whose holder is gone is recorded lost once (by the claimer of its item) and retried, and a
// branch whose item a live holder keeps is never taken over by a coordinator, old or new.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../src/core/error-class.js';
import { cancelFlow, defineFlow, defineStep, FlowEngine, FlowWorker, type FlowDefinition, type FlowStore, type StepModule, type WorkerOutcome } from '../../src/index.js';
import { engineStores } from '../support/stores.js';
import { waitUntil } from '../support/wait-until.js';

const RETRY = { maxRetries: 2, backoff: { kind: 'none' as const } };

/** A source whose run waits at `gate` (when given) before it returns `n`. */
const source = (n: number, gate?: () => Promise<void>): StepModule => ({
  kind: 'source',
  version: '1',
  async run() {
    await gate?.();
    return { outputs: [{ kind: 'number', payload: { n } }] };
  },
});
const sum: StepModule = {
  kind: 'transform',
  version: '1',
  run: (ctx) => ({ outputs: [{ kind: 'number', payload: { n: ctx.input.reduce((t, a) => t + ((a as unknown as { payload: { n: number } }).payload.n ?? 0), 0) } }] }),
};

/** Two branches and their join: `left` and `right` are sources, `join` needs both. */
const branches = (gate?: () => Promise<void>): FlowDefinition =>
  defineFlow('branches', [defineStep('left', source(2, gate)), defineStep('right', source(3, gate), {}, { needs: [] }), defineStep('join', sum, {}, { needs: ['left', 'right'] })]);

/** Resolves for each caller once `count` callers have arrived: proof that they ran at the same time. */
function rendezvous(count: number): () => Promise<void> {
  let arrived = 0;
  let open: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (open = resolve));
  return async () => {
    arrived += 1;
    if (arrived === count) open();
    await all;
  };
}

for (const factory of engineStores)
  describe(`graph branches as work items (${factory.name})`, { timeout: 120_000 }, () => {
    let store: FlowStore;
    beforeEach(async () => {
      store = await factory.create();
    });
    afterEach(() => store.close());

    /** A worker ("ghost") claims `left` as an item, under a lease of `leaseMs`, and starts it. */
    const ghostStartsLeft = async (flowId: string, leaseMs: number) => {
      await store.openSteps(flowId, [{ index: 0, due: 'now' }]);
      const [ghost] = await store.claimShards('ghost', { limit: 1, leaseMs, kind: 'step' });
      if (ghost === undefined) throw new Error('the item was claimed');
      await store.append(flowId, 1, [{ type: 'StepStarted', stepIndex: 0, stepId: 'left', attempt: 1, ts: new Date().toISOString() }]);
      return ghost;
    };

    const cleanFingerprint = async (): Promise<string | null> => {
      const engine = new FlowEngine({ store, concurrency: 1, retryPolicy: RETRY });
      const definition = branches();
      return (await engine.runToEnd(await engine.startFlow(definition), definition)).flowFingerprint;
    };

    it('two workers of one slot each run the two branches of one flow at the same time', async () => {
      const definition = branches(rendezvous(2));
      const flowId = await new FlowEngine({ store, retryPolicy: RETRY }).startFlow(definition);
      const stop = new AbortController();
      const outcomes: WorkerOutcome[][] = [[], []];
      const workers = [0, 1].map(
        (i) =>
          new FlowWorker({
            store,
            resolve: () => Promise.resolve({ definition, retryPolicy: RETRY }),
            owner: `w${i}`,
            pollMs: 20,
            onOutcome: (outcome) => {
              outcomes[i]?.push(outcome);
              if (outcome.kind === 'completed') stop.abort();
            },
          }),
      );
      await Promise.all(workers.map((w) => w.run({ signal: stop.signal })));
      const events = await store.list(flowId);
      expect(events.at(-1)?.type).toBe('FlowCompleted');
      const started = events.filter((e) => e.type === 'StepStarted').map((e) => (e.type === 'StepStarted' ? `${e.stepId} ${e.attempt}` : ''));
      expect(started.sort()).toEqual(['join 1', 'left 1', 'right 1']); // each branch attempt recorded once
      // The coordinator (one slot) ran one branch; the other worker ran the other as a work item.
      const items = outcomes.flat().filter((o) => o.kind === 'shard' && o.item === 'step' && o.end === 'finished');
      expect(items.length).toBeGreaterThanOrEqual(1);
      expect((await store.listErrors(flowId)).length).toBe(0);
      const last = events.at(-1);
      expect(last?.type === 'FlowCompleted' ? last.flowFingerprint : null).toBe(await cleanFingerprint());
    });

    it('leaves a branch a live holder runs to it; once its lease expires, the claimer of its item records it lost once and retries it', async () => {
      const definition = branches();
      const flowId = await new FlowEngine({ store, retryPolicy: RETRY }).startFlow(definition);
      // A worker claimed `left` as an item and started it, and then stops renewing its lease.
      const ghost = await ghostStartsLeft(flowId, 600_000);

      // A coordinator while the holder's lease is live: runs `right`, never records `left` lost.
      const stop = new AbortController();
      const first = new FlowEngine({
        store,
        concurrency: 2,
        shareBranches: true,
        retryPolicy: RETRY,
        shardPollMs: 10,
        onEvent: (event) => {
          if (event.type === 'StepFinished' && event.stepId === 'right') stop.abort();
        },
      });
      const stopped = await first.runToEnd(flowId, definition, { signal: stop.signal, waitForRetries: false });
      expect(stopped.steps.map((s) => s.status)).toEqual(['Running', 'FinishedOk', 'Pending']);
      expect(await store.listErrors(flowId)).toEqual([]);

      // The holder is gone: its lease runs out. A new coordinator learns from the item rows that `left`
      // is an item, claims it once expired, records the lost attempt and runs its retry.
      await store.renewWork('ghost', { flowIds: [], items: [ghost] }, 1);
      await waitUntil(async () => (await store.listShards(flowId)).every((r) => r.holder === null), 'the holder lease to expire');
      const second = new FlowEngine({ store, concurrency: 2, shareBranches: true, retryPolicy: RETRY, shardPollMs: 10 });
      const done = await second.runToEnd(flowId, definition, { waitForRetries: false });
      expect(done.status).toBe('completed');
      const errors = await store.listErrors(flowId);
      expect(errors.map((e) => [e.stepId, e.attemptNumber, e.errorClass, e.details.error_code])).toEqual([['left', 1, 'Transient', 'WORKER_LOST']]);
      const events = await store.list(flowId);
      const lefts = events.filter((e) => 'stepId' in e && e.stepId === 'left').map((e) => e.type);
      expect(lefts).toEqual(['StepStarted', 'StepFailed', 'RetryScheduled', 'StepStarted', 'StepFinished']);
      expect(done.flowFingerprint).toBe(await cleanFingerprint());
      expect((await store.listShards(flowId)).some((r) => r.open)).toBe(false);
    });
  
    it('an engine that does not share branches (as `chemflow resume` runs) leaves a live holder its branch and takes the item over once its lease expired', async () => {
      const definition = branches();
      const flowId = await new FlowEngine({ store, retryPolicy: RETRY }).startFlow(definition);
      const ghost = await ghostStartsLeft(flowId, 600_000);

      const stop = new AbortController();
      const resumer = (signal?: AbortSignal) =>
        new FlowEngine({
          store,
          concurrency: 2,
          retryPolicy: RETRY,
          shardPollMs: 10,
          onEvent: (event) => {
            if (event.type === 'StepFinished' && event.stepId === 'right') stop.abort();
          },
        }).runToEnd(flowId, definition, { waitForRetries: false, ...(signal === undefined ? {} : { signal }) });
      const stopped = await resumer(stop.signal);
      expect(stopped.steps.map((s) => s.status)).toEqual(['Running', 'FinishedOk', 'Pending']);
      expect(await store.listErrors(flowId)).toEqual([]);

      await store.renewWork('ghost', { flowIds: [], items: [ghost] }, 1);
      await waitUntil(async () => (await store.listShards(flowId)).every((r) => r.holder === null), 'the holder lease to expire');
      const done = await resumer();
      expect(done.status).toBe('completed');
      const errors = await store.listErrors(flowId);
      expect(errors.map((e) => [e.stepId, e.attemptNumber, e.details.error_code])).toEqual([['left', 1, 'WORKER_LOST']]);
      expect(done.flowFingerprint).toBe(await cleanFingerprint());
      expect((await store.listShards(flowId)).some((r) => r.open)).toBe(false);
    });

    it("records a branch lost once, with no retry, when its holder dies after another branch failed the flow for good", async () => {
      const broken: StepModule = {
        kind: 'source',
        version: '1',
        run: () => {
          throw new PermanentError('broken');
        },
      };
      const definition = defineFlow('failing', [defineStep('left', source(2)), defineStep('right', broken, {}, { needs: [] }), defineStep('join', sum, {}, { needs: ['left', 'right'] })]);
      const flowId = await new FlowEngine({ store, retryPolicy: RETRY }).startFlow(definition);
      // A worker claimed `left` as an item, started it, and dies: its lease runs out.
      await ghostStartsLeft(flowId, 1_000);

      // A worker coordinates: `right` fails for good, the flow fails; then it records `left` lost once its lease expired.
      const worker = new FlowWorker({ store, resolve: () => Promise.resolve({ definition, retryPolicy: RETRY }), owner: 'w', pollMs: 20, concurrency: 2 });
      await worker.run({ untilIdle: true });
      const events = await store.list(flowId);
      const lefts = events.filter((e) => 'stepId' in e && e.stepId === 'left').map((e) => e.type);
      expect(lefts).toEqual(['StepStarted', 'StepFailed']);
      expect(events.some((e) => e.type === 'RetryScheduled' || (e.type === 'StepStarted' && e.stepId === 'join'))).toBe(false);
      const errors = await store.listErrors(flowId);
      expect(errors.map((e) => [e.stepId, e.errorClass, e.details.error_code ?? null]).sort()).toEqual([
        ['left', 'Transient', 'WORKER_LOST'],
        ['right', 'Permanent', expect.anything()],
      ]);
      expect((await store.listFlows()).find((f) => f.flowId === flowId)?.status).toBe('failed');
      expect((await store.listShards(flowId)).some((r) => r.open)).toBe(false);
    });

    it('a flow whose only runnable step waits for a retry is not claimed again and again before it is due', async () => {
      const DELAY_MS = 1_500;
      const slowRetry = { maxRetries: 2, backoff: { kind: 'exponential' as const, baseMs: DELAY_MS, factor: 1 } };
      let failedOnce: () => void = () => undefined;
      const leftFailed = new Promise<void>((resolve) => (failedOnce = resolve));
      let attempts = 0;
      const flaky: StepModule = {
        kind: 'source',
        version: '1',
        run: () => {
          attempts += 1;
          if (attempts === 1) {
            failedOnce();
            throw new TransientError('not yet');
          }
          return { outputs: [{ kind: 'number', payload: { n: 2 } }] };
        },
      };
      // `right` finishes after `left` failed: the flow's row is pending then, with nothing to run before the retry.
      const definition = defineFlow('retrying', [
        defineStep('left', flaky),
        defineStep('right', source(3, () => leftFailed.then(() => new Promise((resolve) => setTimeout(resolve, 50)))), {}, { needs: [] }),
        defineStep('join', sum, {}, { needs: ['left', 'right'] }),
      ]);
      const flowId = await new FlowEngine({ store, retryPolicy: slowRetry }).startFlow(definition);
      let flowClaims = 0;
      const claimWork = store.claimWork.bind(store);
      store.claimWork = async (...args) => {
        const claimed = await claimWork(...args);
        flowClaims += claimed.flows.length;
        return claimed;
      };
      const started = Date.now();
      const worker = new FlowWorker({ store, resolve: () => Promise.resolve({ definition, retryPolicy: slowRetry }), owner: 'w', pollMs: 20, concurrency: 2 });
      await worker.run({ untilIdle: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(DELAY_MS - 100);
      expect((await store.list(flowId)).at(-1)?.type).toBe('FlowCompleted');
      // Claimed to start, after `right` finished (then given back until the retry), at the retry, after `left`
      // and at the end; never every 20 ms while it waited.
      expect(flowClaims).toBeLessThanOrEqual(8);
    });

    it('a cancel stops branches running in two workers: each holder records its own attempt (FLOW_CANCELLED), none is recorded lost', async () => {
      const both = rendezvous(2);
      // Each branch, once both run, waits until its attempt is stopped.
      const blocking: StepModule = {
        kind: 'source',
        version: '1',
        async run(ctx) {
          await both();
          await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('stopped')), { once: true }));
          return { outputs: [] };
        },
      };
      const definition = defineFlow('blocked', [defineStep('left', blocking), defineStep('right', blocking, {}, { needs: [] }), defineStep('join', sum, {}, { needs: ['left', 'right'] })]);
      const flowId = await new FlowEngine({ store, retryPolicy: RETRY }).startFlow(definition);
      const stop = new AbortController();
      const options = { store, resolve: () => Promise.resolve({ definition, retryPolicy: RETRY }), pollMs: 20, heartbeatMs: 50 };
      const running = [0, 1].map((i) => new FlowWorker({ ...options, owner: `w${i}` }).run({ signal: stop.signal }));
      const startedBoth = async () => (await store.list(flowId)).filter((e) => e.type === 'StepStarted').length === 2;
      await waitUntil(startedBoth, 'both branches to start');
      await cancelFlow(store, flowId, 'enough');
      const failedBoth = async () => (await store.list(flowId)).filter((e) => e.type === 'StepFailed').length === 2;
      await waitUntil(failedBoth, 'both branches to record their attempt');
      stop.abort();
      await Promise.all(running);
      const errors = await store.listErrors(flowId);
      expect(errors.map((e) => [e.stepId, e.errorClass, e.details.error_code]).sort()).toEqual([
        ['left', 'Permanent', 'FLOW_CANCELLED'],
        ['right', 'Permanent', 'FLOW_CANCELLED'],
      ]);
      expect((await store.list(flowId)).map((e) => e.type).slice(-3).sort()).toEqual(['FlowCancelled', 'StepFailed', 'StepFailed']);
      expect((await store.listShards(flowId)).some((r) => r.open)).toBe(false);
    });
  });
