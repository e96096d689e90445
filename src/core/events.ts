import type { JsonObject, JsonValue } from './canonical-json.js';
import type { ErrorClass } from './error-class.js';
import type { ShardPosition } from './definition.js';
import type { StepPolicyRecord } from './step-policy.js';

/** Bumped when an event's shape changes; readers upgrade older versions instead of rejecting them. */
export const EVENT_SCHEMA_VERSION = 1;

export interface FlowInitialized {
  type: 'FlowInitialized';
  definitionHash: string;
  stepCount: number;
  flowName: string;
  /** Ordered step ids, so a flow's state can be shown without loading its step code. */
  stepIds: string[];
  /** Free-form facts about the run's origin (e.g. the flow file); never part of any hash. */
  metadata: JsonObject;
  /**
   * Each step's retry policy and timeout, resolved when the flow started (aligned with `stepIds`);
   * outside every hash. Absent in logs written before chemflow recorded them.
   */
  policies?: StepPolicyRecord[];
  /**
   * What each step needs (indexes, aligned with `stepIds`) when the flow is a graph. Absent when every
   * step needs the one before it (a flow written as a list, and every log written before graphs).
   */
  needs?: number[][];
  /**
   * `continue`: a step failed for good stops only the steps that depend on it, and the flow fails once
   * nothing else can run (docs/graphs.md). Absent: `stop`, the rule of every flow that does not say
   * otherwise and of every log written before the option.
   */
  onFailure?: 'continue';
}

/**
 * Whether the flow is failed once this outcome is recorded, where the event's type alone does not say
 * it (the queue reads it: its rules see the log, not the definition; `withFlowOutcomes`): `false` on
 * the StepFailed of a flow whose `onFailure` is `continue` while its other steps go on, `true` on the
 * StepFinished or StepSkipped after which a flow is failed (a branch that ended after a failure).
 * Absent, a StepFailed fails its flow and any other outcome leaves it open. Outside every hash.
 */
export interface FlowOutcomeMark {
  flowFailed?: boolean;
}

export interface StepStarted {
  type: 'StepStarted';
  stepIndex: number;
  stepId: string;
  /** The step's attempt; for a shard's start (`shard` set), the shard's own attempt. */
  attempt: number;
  /**
   * A mapped step started sharded: its input splits into this many shards, each started, run, failed
   * and retried on its own (events with `shard`), then merged into the step's StepFinished. Absent for
   * a step that runs whole (unmapped, or older logs).
   */
  shardCount?: number;
  /** Set on the start of one shard of a sharded step (docs/map.md). */
  shard?: ShardPosition;
}

export interface StepSignal {
  type: 'StepSignal';
  stepIndex: number;
  stepId: string;
  attempt: number;
  name: string;
  data: JsonValue;
  /** Emitted by one shard of a sharded step. */
  shard?: ShardPosition;
}

export interface StepFinished extends FlowOutcomeMark {
  type: 'StepFinished';
  stepIndex: number;
  stepId: string;
  attempt: number;
  outputs: string[];
  fingerprint: string;
  /**
   * Set when the step was not run but satisfied from the step cache: the finished step whose outputs
   * it took (docs/cache.md). Outside every hash, so fingerprints are those of a full run. Absent
   * (older logs, and every step that ran) means null.
   */
  cachedFrom?: CachedFrom | null;
  /** One shard finished (its outputs are that shard's, merged later into the step's StepFinished). */
  shard?: ShardPosition;
}

/** The source of a cached step: a step of any flow of the same store that finished cleanly. */
export interface CachedFrom {
  flowId: string;
  stepId: string;
}

export interface StepFailed extends FlowOutcomeMark {
  type: 'StepFailed';
  stepIndex: number;
  stepId: string;
  attempt: number;
  errorClass: ErrorClass;
  error: { code: string; message: string };
  /** `{stack_trace, input_hash, params, ...}` merged with the error's own details. */
  details: JsonObject;
  fingerprint: string;
  /** Retries scheduled for this step before this attempt. */
  retryCount: number;
  /** The effective policy's limit when the attempt failed. */
  maxRetries: number;
  /** One shard's attempt failed (also in `details.shard`); `attempt` and `retryCount` are the shard's. */
  shard?: ShardPosition;
}

export interface RetryScheduled {
  type: 'RetryScheduled';
  stepIndex: number;
  stepId: string;
  /** 1-based: the n-th retry of this step. */
  retryIndex: number;
  reason: string | null;
  delayMs: number;
  /** Earliest time (ISO 8601) the retry may start; stored so a restarted process honours it. */
  notBefore: string;
  /** The retry of one failed shard: only that shard runs again. */
  shard?: ShardPosition;
}

/**
 * A step that will not run: its condition (`when`) was false, or every step it needs was skipped. It
 * has no outputs; its `fingerprint` stands for it in the flow fingerprint.
 */
export interface StepSkipped extends FlowOutcomeMark {
  type: 'StepSkipped';
  stepIndex: number;
  stepId: string;
  reason: 'condition' | 'needs-skipped';
  fingerprint: string;
}

export interface FlowCompleted {
  type: 'FlowCompleted';
  flowFingerprint: string;
}

/**
 * An operator stopped the flow for good: no step starts after it. An attempt in flight when it was
 * appended may still record its outcome (StepFinished or StepFailed) after it, and nothing else.
 */
export interface FlowCancelled {
  type: 'FlowCancelled';
  reason: string | null;
}

/** The body of every event kind: one discriminated union on `type`. */
export type FlowEventBody =
  | FlowInitialized
  | StepStarted
  | StepSignal
  | StepFinished
  | StepFailed
  | RetryScheduled
  | StepSkipped
  | FlowCompleted
  | FlowCancelled;

export type FlowEventType = FlowEventBody['type'];

export const FLOW_EVENT_TYPES: readonly FlowEventType[] = [
  'FlowInitialized',
  'StepStarted',
  'StepSignal',
  'StepFinished',
  'StepFailed',
  'RetryScheduled',
  'StepSkipped',
  'FlowCompleted',
  'FlowCancelled',
];

/** An event before the store has placed it in the log. The timestamp never enters a hash. */
export type NewFlowEvent = FlowEventBody & { ts: string };

/** An event as stored: per-flow `version` 1, 2, 3 ... without gaps; `seq` is the global order. */
export type FlowEvent = FlowEventBody & {
  flowId: string;
  version: number;
  seq: number;
  ts: string;
  schemaVersion: number;
};

export type EventOf<T extends FlowEventType> = Extract<FlowEvent, { type: T }>;
