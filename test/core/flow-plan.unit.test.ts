import { describe, expect, it } from 'vitest';
import { defineFlow, planFlow, resolveStepPolicies, RetryPolicy, type RetryPolicyOptions } from '../../src/core/index.js';

const NO_BACKOFF = RetryPolicy.from({ maxRetries: 2, backoff: { kind: 'none' } });
const flow = defineFlow('plan', [
  { id: 'a', kind: 'source', baseParams: {}, run: () => ({ outputs: [] }) },
  { id: 'b', kind: 'transform', baseParams: {}, run: () => ({ outputs: [] }), retry: { maxRetries: 5, backoff: { kind: 'exponential', baseMs: 10 } } },
]);
/** Policies as a log hands them back: equal data, new objects every time. */
const recorded = (policy: RetryPolicyOptions) => JSON.parse(JSON.stringify(resolveStepPolicies(flow, policy))) as ReturnType<typeof resolveStepPolicies>;

describe('planFlow', () => {
  it('plans the flows of one definition that recorded the same policies once', () => {
    const first = planFlow(flow, { policies: recorded(NO_BACKOFF) }, NO_BACKOFF);
    expect(planFlow(flow, { policies: recorded(NO_BACKOFF) }, NO_BACKOFF)).toBe(first);
    expect(first.steps.map((s) => s.policy.maxRetries)).toEqual([2, 5]);
  });

  it('plans anew for other recorded policies, another default or another engine version', () => {
    const three = RetryPolicy.from({ maxRetries: 3, backoff: { kind: 'none' } });
    const first = planFlow(flow, { policies: recorded(NO_BACKOFF) }, NO_BACKOFF);
    const other = planFlow(flow, { policies: recorded(three) }, NO_BACKOFF);
    expect(other).not.toBe(first);
    expect(other.steps.map((s) => s.policy.maxRetries)).toEqual([3, 5]);
    const unrecorded = planFlow(flow, { policies: null }, three);
    expect(unrecorded.steps.map((s) => s.policy.maxRetries)).toEqual([3, 5]);
    expect(planFlow(flow, { policies: null }, NO_BACKOFF).steps[0]?.policy.maxRetries).toBe(2);
    expect(planFlow(flow, { policies: recorded(NO_BACKOFF) }, NO_BACKOFF, 'another-engine').engineVersion).toBe('another-engine');
  });
});
