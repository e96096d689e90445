import type { FlowDefinition } from './definition.js';
import { InvalidDefinitionError } from './errors.js';
import { RetryPolicy, type RetryPolicyOptions } from './retry-policy.js';

/**
 * A step's run-time policy as a flow records it in its `FlowInitialized`: resolved (the step's own
 * policy, else the engine's default) and validated once, when the flow starts, so that every later
 * reader — a worker, `chemflow retry`, the audit rows — applies the policy the flow was started with.
 * Never part of any hash: tuning retries can never change what a result is.
 */
export interface StepPolicyRecord {
  retry: RetryPolicyOptions;
  /** Limit of one attempt in ms; null when unlimited. */
  timeoutMs: number | null;
}

/** Resolves every step's policy against the engine's default; throws on an invalid one. */
export function resolveStepPolicies(definition: FlowDefinition, defaultPolicy: RetryPolicyOptions): StepPolicyRecord[] {
  return definition.steps.map((step) => {
    const retry = RetryPolicy.from(step.retry ?? defaultPolicy).toJSON();
    const timeoutMs = step.timeoutMs ?? null;
    if (timeoutMs !== null && !(Number.isInteger(timeoutMs) && timeoutMs > 0))
      throw new InvalidDefinitionError(`Step "${step.id}" has an invalid timeoutMs ${timeoutMs}: use a positive integer`);
    return { retry: { ...retry, retryOn: [...(retry.retryOn ?? [])] }, timeoutMs };
  });
}
