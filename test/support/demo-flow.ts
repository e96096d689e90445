import {
  defineFlow,
  PermanentError,
  TransientError,
  ValidationError,
  type ErrorClass,
  type FlowDefinition,
  type RetryPolicyOptions,
  type StepDefinition,
} from '../../src/index.js';
import type { Artifact } from '../../src/core/artifact.js';
import type { Clock } from '../../src/runtime/clock.js';

/** A step that fails on its first attempts with the given classes, then doubles its input. */
export function flakyStep(id: string, failures: readonly ErrorClass[], options: { retry?: RetryPolicyOptions; factor?: number } = {}): StepDefinition {
  return {
    id,
    kind: 'transform',
    baseParams: { factor: options.factor ?? 2 },
    ...(options.retry ? { retry: options.retry } : {}),
    run(ctx) {
      const planned = failures[ctx.attempt - 1];
      if (planned !== undefined) throw errorOf(planned, `${id} attempt ${ctx.attempt} fails (${planned})`);
      const n = ((ctx.input[0] as Artifact | undefined)?.payload as { n: number }).n;
      return { outputs: [{ kind: 'number', payload: { n: n * (ctx.params.factor as number) } }] };
    },
  };
}

function errorOf(errorClass: ErrorClass, message: string): Error {
  switch (errorClass) {
    case 'Transient':
      return new TransientError(message, { details: { planned: true } });
    case 'Permanent':
      return new PermanentError(message);
    case 'Validation':
      return new ValidationError(message);
    case 'Runtime':
      return new TypeError(message);
  }
}

export function seedStep(n = 1): StepDefinition {
  return {
    id: 'seed',
    kind: 'source',
    baseParams: { n },
    run: (ctx) => ({ outputs: [{ kind: 'number', payload: { n: ctx.params.n as number } }] }),
  };
}

export function sinkStep(): StepDefinition {
  return {
    id: 'report',
    kind: 'sink',
    baseParams: {},
    run(ctx) {
      ctx.emit('progress', { received: ctx.input.length });
      return { outputs: [{ kind: 'report', payload: { total: ((ctx.input[0] as Artifact | undefined)?.payload as { n: number }).n } }] };
    },
  };
}

/** seed → double → (middle, failing as planned) → report */
export function demoFlow(middleFailures: readonly ErrorClass[] = [], options: { n?: number; retry?: RetryPolicyOptions } = {}): FlowDefinition {
  return defineFlow('demo', [
    seedStep(options.n ?? 1),
    flakyStep('double', []),
    flakyStep('middle', middleFailures, options.retry ? { retry: options.retry, factor: 3 } : { factor: 3 }),
    sinkStep(),
  ]);
}

/**
 * A test clock: time only moves when the engine sleeps or the test calls `advance`, so backoffs cost
 * nothing and are observable, and timers (the leases' heartbeats) fire when time passes their turn.
 */
export class ManualClock implements Clock {
  current = Date.parse('2026-01-01T00:00:00.000Z');
  readonly sleeps: number[] = [];
  private readonly timers = new Set<{ everyMs: number; next: number; tick: () => void }>();
  now = (): number => this.current;
  sleep = (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.advance(Math.max(0, ms));
    return Promise.resolve();
  };
  every = (ms: number, tick: () => void): (() => void) => {
    const timer = { everyMs: Math.max(1, ms), next: this.current + Math.max(1, ms), tick };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  };
  /** Moves time on by `ms`, calling each timer whose turn came (once however many turns it missed). */
  advance(ms: number): void {
    this.current += ms;
    for (const timer of [...this.timers]) {
      if (!this.timers.has(timer) || timer.next > this.current) continue;
      timer.next = this.current + timer.everyMs;
      timer.tick();
    }
  }
  /** Timers running now (a heartbeat stops when no lease is left). */
  get timerCount(): number {
    return this.timers.size;
  }
}

/** Events without what legitimately differs between runs: timestamps, ids and the global order. */
export function comparable(events: readonly { ts: string; flowId: string; seq: number }[]): unknown[] {
  return events.map((event) => {
    const { ts: _ts, flowId: _flowId, seq: _seq, ...rest } = event as Record<string, unknown> & { ts: string; flowId: string; seq: number };
    if (rest.type === 'RetryScheduled') delete rest.notBefore;
    if (rest.type === 'StepFailed') {
      const details = { ...(rest.details as Record<string, unknown>) };
      delete details.stack_trace;
      rest.details = details;
    }
    return rest;
  });
}
