import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FlowEvent } from '../../src/core/events.js';
import { evolve, initialFlowState } from '../../src/core/reducer.js';
import {
  cancelFlow,
  defineFlow,
  FlowEngine,
  FlowWorker,
  type FlowDefinition,
  type FlowResolver,
  type RetryPolicyOptions,
  type StepDefinition,
} from '../../src/index.js';
import { WorkerMetrics } from '../../src/runtime/worker-metrics.js';
import { flowInitialized, hashOf, shapeOf, stepFinished, stepStarted } from '../helpers/events.js';
import { demoFlow, flakyStep, seedStep } from '../support/demo-flow.js';
import { engineStores, storeRunner } from '../support/stores.js';
import { templatePgliteStore } from '../support/pglite-template.js';
import { untilLeaseExpired } from '../support/wait-until.js';

const NO_BACKOFF: RetryPolicyOptions = { maxRetries: 3, backoff: { kind: 'none' } };

/** Resolves stored flows by their name, without backoff so that retries cost no time. */
function byName(...definitions: FlowDefinition[]): FlowResolver {
  return (_flowId, initialized) => {
    const definition = definitions.find((d) => d.name === initialized.flowName);
    return definition ? Promise.resolve({ definition, retryPolicy: NO_BACKOFF }) : Promise.reject(new Error(`no definition named ${initialized.flowName}`));
  };
}

/** The value of one sample of the Prometheus text, e.g. `sample(text, 'x_total', { error_class: 'Transient' })`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const prefix = wanted === '' ? `${name} ` : `${name}{${wanted}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

/** A step that waits until its flow is cancelled (its ctx.signal aborts), saying when it started. */
function holdStep(started: () => void): StepDefinition {
  return {
    id: 'hold',
    kind: 'transform',
    baseParams: {},
    run: (ctx) =>
      new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
        started();
      }),
  };
}

describe.each(engineStores)('WorkerMetrics of a FlowWorker on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('counts claims, outcomes, steps, failures by class, retries, recoveries, renewals and step durations', { timeout: 120_000 }, async () => {
    await withStore(async (store) => {
      let holding: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const ok = demoFlow();
      const flaky = defineFlow('flaky', [seedStep(), flakyStep('middle', ['Transient'])]);
      const broken = defineFlow('broken', [seedStep(), flakyStep('middle', ['Permanent'])]);
      const exhausted = defineFlow('exhausted', [seedStep(), flakyStep('middle', ['Transient', 'Transient'], { retry: { maxRetries: 1, backoff: { kind: 'none' } } })]);
      const hold = defineFlow('held', [seedStep(), holdStep(() => holding())]);
      const lost = defineFlow('lost', [seedStep(), flakyStep('double', [])]);
      // The policy is recorded when a flow starts: the one its workers resolve applies to older logs only.
      const engine = new FlowEngine({ store, retryPolicy: NO_BACKOFF });

      // A worker claims the first flow, starts its first attempt and dies: its lease expires unrenewed.
      const lostId = await engine.startFlow(lost);
      expect(await store.claimFlows('dead', { limit: 1, leaseMs: 200 })).toMatchObject([{ flowId: lostId }]);
      await store.append(lostId, 1, [{ type: 'StepStarted', stepIndex: 0, stepId: 'seed', attempt: 1, ts: new Date().toISOString() }]);
      for (const def of [ok, flaky, broken, exhausted]) await engine.startFlow(def);
      const heldId = await engine.startFlow(hold);

      const metrics = new WorkerMetrics({ queue: store });
      const before = await metrics.metrics();
      expect(sample(before, 'chemflow_queue_depth', { status: 'pending' })).toBe(5);
      expect(sample(before, 'chemflow_queue_depth', { status: 'running' })).toBe(1);
      expect(sample(before, 'chemflow_queue_depth', { status: 'waiting' })).toBe(0);
      expect(sample(before, 'chemflow_flows_completed_total')).toBe(0);
      expect(sample(before, 'chemflow_step_attempts_failed_total', { error_class: 'Validation' })).toBe(0);
      expect(before).toContain('process_cpu_user_seconds_total');
      await untilLeaseExpired(store, lostId); // the dead worker's lease

      const worker = new FlowWorker({ store, resolve: byName(ok, flaky, broken, exhausted, hold, lost), concurrency: 3, heartbeatMs: 50, pollMs: 20, ...metrics.hooks });
      const running = worker.run({ untilIdle: true });
      await held;
      await cancelFlow(store, heldId, 'enough');
      const outcomes = await running;
      expect(outcomes.map((o) => o.kind).sort()).toEqual(['cancelled', 'completed', 'completed', 'completed', 'failed', 'failed']);

      const text = await metrics.metrics();
      const counters = Object.fromEntries(
        [
          'chemflow_flows_claimed_total',
          'chemflow_flows_completed_total',
          'chemflow_flows_failed_total',
          'chemflow_flows_cancelled_total',
          'chemflow_steps_finished_total',
          'chemflow_retries_scheduled_total',
          'chemflow_retries_rejected_total',
          'chemflow_attempts_recovered_total',
          'chemflow_leases_lost_total',
          'chemflow_step_duration_seconds_count',
          'chemflow_database_up',
        ].map((name) => [name, sample(text, name)]),
      );
      expect(counters).toEqual({
        chemflow_flows_claimed_total: 6,
        chemflow_flows_completed_total: 3, // demo, flaky, lost
        chemflow_flows_failed_total: 2, // broken, exhausted
        chemflow_flows_cancelled_total: 1,
        chemflow_steps_finished_total: 4 + 2 + 1 + 1 + 1 + 2,
        chemflow_retries_scheduled_total: 3, // flaky, exhausted's first failure, the lost attempt
        chemflow_retries_rejected_total: 1, // exhausted's second failure, past maxRetries
        chemflow_attempts_recovered_total: 1,
        chemflow_leases_lost_total: 0,
        chemflow_step_duration_seconds_count: 11 + 5, // every attempt this worker ran, not the lost one
        chemflow_database_up: 1,
      });
      const failedByClass = (errorClass: string): number | undefined => sample(text, 'chemflow_step_attempts_failed_total', { error_class: errorClass });
      expect(['Transient', 'Permanent', 'Validation', 'Runtime'].map(failedByClass)).toEqual([4, 2, 0, 0]); // Permanent: broken, and the cancelled hold
      expect(sample(text, 'chemflow_lease_renewals_total')).toBeGreaterThan(0); // the hold outlived a heartbeat
      expect(sample(text, 'chemflow_step_duration_seconds_bucket', { le: '+Inf' })).toBe(16);
      expect(sample(text, 'chemflow_step_duration_seconds_sum')).toBeGreaterThanOrEqual(0);
      for (const status of ['pending', 'running', 'waiting']) expect(sample(text, 'chemflow_queue_depth', { status })).toBe(0);
      expect(text).toMatch(/^# TYPE chemflow_step_duration_seconds histogram$/m);
      expect(text).toMatch(/^# TYPE chemflow_flows_completed_total counter$/m);
    });
  });
});

describe.each(engineStores)('WorkerMetrics of a lost lease on $name', ({ create }) => {
  const withStore = storeRunner(create);

  it('counts a lease the heartbeat found taken over, and the attempt it held stops', { timeout: 60_000 }, async () => {
    await withStore(async (store) => {
      let holding: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const hold = defineFlow('held', [seedStep(), holdStep(() => holding())]);
      const flowId = await new FlowEngine({ store, retryPolicy: NO_BACKOFF }).startFlow(hold);
      const metrics = new WorkerMetrics({ queue: store });
      const worker = new FlowWorker({ store, resolve: byName(hold), heartbeatMs: 50, leaseMs: 10_000, pollMs: 20, ...metrics.hooks });
      const running = worker.run({ untilIdle: true });
      await held;
      // Another process takes the flow over (as it may once a lease expired unrenewed, e.g. a long outage).
      expect(await store.acquireLease(flowId, 'thief', 60_000, worker.owner)).toEqual({ acquired: true });
      const outcomes = await running;
      expect(outcomes).toMatchObject([{ kind: 'lost', flowId }]);
      expect(sample(await metrics.metrics(), 'chemflow_leases_lost_total')).toBe(1);
    });
  });
});

describe('WorkerMetrics when the database is away', () => {
  it('a scrape still answers, with the last queue depth read', { timeout: 90_000 }, async () => {
    const store = await templatePgliteStore();
    await new FlowEngine({ store }).startFlow(demoFlow());
    const metrics = new WorkerMetrics({ queue: store, processMetrics: false });
    expect(sample(await metrics.metrics(), 'chemflow_queue_depth', { status: 'pending' })).toBe(1);
    await store.close();
    await expect(store.queueDepth()).rejects.toThrow();
    const text = await metrics.metrics();
    expect(sample(text, 'chemflow_queue_depth', { status: 'pending' })).toBe(1);
    expect(text).not.toContain('process_cpu_user_seconds_total');
  });

  it('a database that never answers delays a scrape by the timeout only; without any earlier read the depth is left out', async () => {
    const metrics = new WorkerMetrics({ queue: { queueDepth: () => new Promise(() => undefined) }, queueDepthTimeoutMs: 50, processMetrics: false });
    const started = Date.now();
    const text = await metrics.metrics();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(text).toMatch(/^# TYPE chemflow_queue_depth gauge$/m);
    expect(sample(text, 'chemflow_queue_depth', { status: 'pending' })).toBeUndefined();
  });
});

describe('WorkerMetrics of cached steps', () => {
  it('counts a step taken from the cache apart: not a finished attempt, no duration', async () => {
    const metrics = new WorkerMetrics({ queue: { queueDepth: () => Promise.resolve({ pending: 0, running: 0, waiting: 0 }) }, processMetrics: false });
    const flowId = randomUUID();
    const events = [
      flowInitialized(),
      { ...stepFinished(0, [hashOf('out')]), cachedFrom: { flowId: randomUUID(), stepId: 'load' } },
      stepStarted(1),
      stepFinished(1, []),
    ].map((e, i) => ({ ...e, flowId, version: i + 1, seq: i + 1, schemaVersion: 1 })) as FlowEvent[];
    let flow = initialFlowState(flowId, shapeOf());
    for (const event of events) {
      flow = evolve(flow, event);
      metrics.hooks.onEvent(event, flow);
    }
    const text = await metrics.metrics();
    expect(sample(text, 'chemflow_steps_cached_total')).toBe(1);
    expect(sample(text, 'chemflow_steps_finished_total')).toBe(1);
    expect(sample(text, 'chemflow_step_duration_seconds_count')).toBe(1);
  });
});
