// Hand-built events for store tests: valid per the event codec, no engine involved.
import { createArtifact, type Artifact } from '../../src/core/artifact.js';
import type { JsonValue } from '../../src/core/canonical-json.js';
import type { FlowShape, ShardPosition } from '../../src/core/definition.js';
import type { ErrorClass } from '../../src/core/error-class.js';
import type { NewFlowEvent } from '../../src/core/events.js';
import { sha256Hex } from '../../src/core/hash.js';

/** A 64-hex-digit hash derived from a label. */
export const hashOf = (label: string): string => sha256Hex(label);

let clock = Date.parse('2024-03-01T10:00:00.000Z');

/** Strictly increasing millisecond timestamps, so "most recently updated" is well defined. */
export function nextTs(): string {
  clock += 7;
  return new Date(clock).toISOString();
}

export const STEP_IDS = ['load', 'score', 'report'] as const;

export function shapeOf(name = 'contract-flow'): FlowShape {
  return { name, steps: STEP_IDS.map((id) => ({ id })), definitionHash: hashOf(`definition:${name}`) };
}

export function flowInitialized(name = 'contract-flow'): NewFlowEvent {
  return {
    type: 'FlowInitialized',
    ts: nextTs(),
    definitionHash: hashOf(`definition:${name}`),
    stepCount: STEP_IDS.length,
    flowName: name,
    stepIds: [...STEP_IDS],
    metadata: { source: 'hand-built', nested: { list: [1, 2.5, 'x', null, true] } },
  };
}

export function stepStarted(stepIndex: number, attempt = 1): NewFlowEvent {
  return { type: 'StepStarted', ts: nextTs(), stepIndex, stepId: stepIdAt(stepIndex), attempt };
}

export function stepFinished(stepIndex: number, outputs: readonly string[], attempt = 1): NewFlowEvent {
  return {
    type: 'StepFinished',
    ts: nextTs(),
    stepIndex,
    stepId: stepIdAt(stepIndex),
    attempt,
    outputs: [...outputs],
    fingerprint: hashOf(`fingerprint:${stepIndex}`),
  };
}

export interface FailureOptions {
  attempt?: number;
  errorClass?: ErrorClass;
  message?: string;
  retryCount?: number;
  maxRetries?: number;
}

export function stepFailed(stepIndex: number, options: FailureOptions = {}): NewFlowEvent {
  const attempt = options.attempt ?? 1;
  return {
    type: 'StepFailed',
    ts: nextTs(),
    stepIndex,
    stepId: stepIdAt(stepIndex),
    attempt,
    errorClass: options.errorClass ?? 'Transient',
    error: { code: 'E_TEST', message: options.message ?? `attempt ${attempt} failed` },
    details: { stack_trace: 'Error: boom\n    at run', input_hash: hashOf('input'), params: { n: attempt } },
    fingerprint: hashOf(`fingerprint:${stepIndex}`),
    retryCount: options.retryCount ?? attempt - 1,
    maxRetries: options.maxRetries ?? 3,
  };
}

export function retryScheduled(stepIndex: number, retryIndex: number): NewFlowEvent {
  return {
    type: 'RetryScheduled',
    ts: nextTs(),
    stepIndex,
    stepId: stepIdAt(stepIndex),
    retryIndex,
    reason: retryIndex % 2 === 0 ? null : 'flaky provider',
    delayMs: 0,
    notBefore: new Date(clock).toISOString(),
  };
}

export function flowCompleted(): NewFlowEvent {
  return { type: 'FlowCompleted', ts: nextTs(), flowFingerprint: hashOf('flow-fingerprint') };
}

/** A content-addressed artifact; `unique` makes it differ from every other test's. */
export function artifactOf(payload: JsonValue, metadata?: Record<string, JsonValue>): Artifact {
  return createArtifact(metadata === undefined ? { kind: 'molecules', payload } : { kind: 'molecules', payload, metadata });
}

function stepIdAt(stepIndex: number): string {
  return STEP_IDS[stepIndex] ?? `step-${stepIndex}`;
}

type EventBody<T extends NewFlowEvent['type']> = Extract<NewFlowEvent, { type: T }>;

// Sharded map steps, hand-built the way the engine logs them: a StepStarted with
// `shardCount` for the step, then events of each shard carrying `shard`, then the step's StepFinished.

/** The start of a mapped step whose input splits into `shardCount` shards. */
export function shardedStepStarted(stepIndex: number, shardCount: number, attempt = 1): NewFlowEvent {
  return { type: 'StepStarted', ts: nextTs(), stepIndex, stepId: stepIdAt(stepIndex), attempt, shardCount };
}

export function shardStarted(stepIndex: number, shard: ShardPosition, attempt = 1): NewFlowEvent {
  return { type: 'StepStarted', ts: nextTs(), stepIndex, stepId: stepIdAt(stepIndex), attempt, shard: { ...shard } };
}

export function shardFinished(stepIndex: number, shard: ShardPosition, outputs: readonly string[], attempt = 1): NewFlowEvent {
  return { ...(stepFinished(stepIndex, outputs, attempt) as EventBody<'StepFinished'>), shard: { ...shard } };
}

/** A shard's failed attempt: `shard` on the event and, as the engine writes it, in `details.shard`. */
export function shardFailed(stepIndex: number, shard: ShardPosition, options: FailureOptions = {}): NewFlowEvent {
  const failed = stepFailed(stepIndex, options) as EventBody<'StepFailed'>;
  return { ...failed, details: { ...failed.details, shard: { ...shard } }, shard: { ...shard } };
}

export function shardRetryScheduled(stepIndex: number, shard: ShardPosition, retryIndex: number): NewFlowEvent {
  return { ...(retryScheduled(stepIndex, retryIndex) as EventBody<'RetryScheduled'>), shard: { ...shard } };
}
