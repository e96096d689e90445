import type { JsonObject } from './canonical-json.js';
import type { ErrorClass } from './error-class.js';
import type { StepPolicyRecord } from './step-policy.js';
import type { CachedFrom } from './events.js';

export type StepStatus = 'Pending' | 'Running' | 'FinishedOk' | 'Failed';
export type FlowStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/** One failed attempt, as the error history of a step keeps it. */
export interface StepErrorEntry {
  attemptNumber: number;
  errorClass: ErrorClass;
  code: string;
  message: string;
  details: JsonObject;
  retryCount: number;
  maxRetries: number;
  timestamp: string;
}

/** One shard of a sharded step: its own attempts, retries and outputs (docs/map.md). */
export interface ShardSlot {
  status: StepStatus;
  /** This shard's attempts started so far. */
  attempts: number;
  /** Retries of this shard scheduled so far (each shard is held to the step's policy on its own). */
  retryCount: number;
  notBefore: string | null;
  /** The shard's own outputs, once it finished; merged in shard order into the step's. */
  outputs: string[];
}

export interface StepSlot {
  stepId: string;
  status: StepStatus;
  fingerprint: string | null;
  outputs: string[];
  startedAt: string | null;
  finishedAt: string | null;
  /** Attempts started so far. */
  attempts: number;
  /** Retries scheduled so far. */
  retryCount: number;
  /** Earliest start of the next attempt when a retry is pending (ISO 8601). */
  notBefore: string | null;
  errors: StepErrorEntry[];
  /** The step this one was satisfied from by the step cache; null when it ran (or has not finished). */
  cachedFrom: CachedFrom | null;
  /**
   * The shards of the step's current attempt when it started sharded (a mapped step), in order; null
   * for a step that runs whole. The step is Running until every shard finished and their outputs were
   * merged into its StepFinished, and Failed while a shard is Failed.
   */
  shards: ShardSlot[] | null;
}

export interface FlowInstance {
  id: string;
  name: string;
  definitionHash: string;
  /** Index of the first step that has not finished successfully. */
  cursor: number;
  steps: StepSlot[];
  completed: boolean;
  failed: boolean;
  /** A FlowCancelled was recorded: no step starts again. */
  cancelled: boolean;
  flowFingerprint: string | null;
  /** The step policies recorded when the flow started; null for a log written before they were recorded. */
  policies: readonly StepPolicyRecord[] | null;
  /** Version of the last applied event; the `expectedVersion` of the next append. */
  version: number;
}

export function flowStatus(flow: FlowInstance): FlowStatus {
  if (flow.completed) return 'completed';
  if (flow.cancelled) return 'cancelled';
  if (flow.failed) return 'failed';
  if (flow.version === 0) return 'pending';
  return flow.steps.some((s) => s.status !== 'Pending') ? 'running' : 'pending';
}
