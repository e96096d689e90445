// The workload: a flow of 10 no-op steps, and the same flow where every step fails once (Transient)
// and is retried at once.
import { defineFlow, TransientError, type FlowDefinition, type StepDefinition } from '../src/index.js';

export const STEPS_PER_FLOW = 10;

function noop(index: number): StepDefinition {
  return {
    id: `step-${index}`,
    kind: index === 0 ? 'source' : 'transform',
    baseParams: {},
    run: () => ({ outputs: [] }),
  };
}

/** Ten steps that do nothing: what is measured is the engine and its commits. */
export const noopFlow: FlowDefinition = defineFlow(
  'bench-noop',
  Array.from({ length: STEPS_PER_FLOW }, (_, i) => noop(i)),
);

/** The same ten steps, each failing its first attempt with a TransientError. */
export const failOnceFlow: FlowDefinition = defineFlow(
  'bench-fail-once',
  Array.from({ length: STEPS_PER_FLOW }, (_, i): StepDefinition => ({
    ...noop(i),
    run: (ctx) => {
      if (ctx.attempt === 1) throw new TransientError('bench: first attempt fails');
      return { outputs: [] };
    },
  })),
);

/** Retries at once: the cost of a failure is its commits, not a wait. */
export const RETRY_AT_ONCE = { maxRetries: 3, backoff: { kind: 'none' } } as const;

/** One no-op step: the shape of the finished flows bulk-loaded as history (bench/queue-history.ts). */
export const oneStepFlow: FlowDefinition = defineFlow('bench-history', [noop(0)]);
