import type { JsonObject } from './canonical-json.js';
import type { FlowDefinition } from './definition.js';
import type { Condition } from './condition.js';
import type { MapSpec } from './map-spec.js';
import { ENGINE_VERSION } from './fingerprint.js';
import type { FlowInstance } from './flow-state.js';
import { RetryPolicy, type RetryPolicyOptions } from './retry-policy.js';
import { resolveStepPolicies, type StepPolicyRecord } from './step-policy.js';

/** What `decide` needs of one step: what enters its fingerprint, and the policy it runs under. */
export interface StepPlan {
  readonly id: string;
  readonly params: JsonObject;
  readonly policy: RetryPolicy;
  readonly timeoutMs: number | null;
  /** Set for a mapped step: it starts sharded (its shards counted from its input) and its shards run apart. */
  readonly map?: MapSpec;
  /** The step runs only when this holds on the output it names (evaluated by the engine, which reads it). */
  readonly when: Condition | null;
}

/** What `decide` needs of a flow besides its state: no step code, no I/O. */
export interface FlowPlan {
  readonly definitionHash: string;
  readonly engineVersion: string;
  readonly steps: readonly StepPlan[];
}

/**
 * The plan a flow runs under. Its policies are the ones recorded in its `FlowInitialized`; a log
 * written before policies were recorded falls back to resolving them now, from the definition and the
 * engine's default (the documented behaviour of older versions).
 */
export function planFlow(
  definition: FlowDefinition,
  flow: Pick<FlowInstance, 'policies'>,
  defaultPolicy: RetryPolicyOptions,
  engineVersion: string = ENGINE_VERSION,
): FlowPlan {
  // The flows of one definition mostly record the same policies (a worker runs many): their plan is
  // made once, not with a policy object per step for every flow.
  const last = lastPlans.get(definition);
  if (last !== undefined && last.defaultPolicy === defaultPolicy && last.engineVersion === engineVersion && samePolicies(last.recorded, flow.policies)) return last.plan;
  const plan = makePlan(definition, flow, defaultPolicy, engineVersion);
  lastPlans.set(definition, { recorded: flow.policies, defaultPolicy, engineVersion, plan });
  return plan;
}

/** The latest plan of each definition, with what it was made from. */
const lastPlans = new WeakMap<
  FlowDefinition,
  { recorded: readonly StepPolicyRecord[] | null; defaultPolicy: RetryPolicyOptions; engineVersion: string; plan: FlowPlan }
>();

function samePolicies(a: readonly StepPolicyRecord[] | null, b: readonly StepPolicyRecord[] | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  return a.every((record, i) => sameJson(record, b[i]));
}

/** Deep equality of JSON values (what a log records). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  return aKeys.every((key) => Object.hasOwn(b, key) && sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function makePlan(definition: FlowDefinition, flow: Pick<FlowInstance, 'policies'>, defaultPolicy: RetryPolicyOptions, engineVersion: string): FlowPlan {
  const policies: readonly StepPolicyRecord[] = flow.policies ?? resolveStepPolicies(definition, defaultPolicy);
  return {
    definitionHash: definition.definitionHash,
    engineVersion,
    steps: definition.steps.map((step, i) => {
      const recorded = policies[i] ?? resolveStepPolicies(definition, defaultPolicy)[i];
      return {
        id: step.id,
        params: step.baseParams,
        policy: RetryPolicy.from(recorded?.retry ?? defaultPolicy),
        timeoutMs: recorded?.timeoutMs ?? null,
        ...(step.map === undefined ? {} : { map: step.map }),
        when: step.when ?? null,
      };
    }),
  };
}
