import type { JsonObject } from './canonical-json.js';
import type { ErrorClass } from './error-class.js';
import type { StepPolicyRecord } from './step-policy.js';
import type { CachedFrom } from './events.js';
import type { OnFailure } from './definition.js';
import { upstreamIndexes } from './step-graph.js';

/**
 * A step's status, and a shard's (a shard is a step's attempt cut in parts, with the same life; it is
 * never `Skipped`). `Skipped`: the step's condition was false, or every step it needs was skipped.
 */
export type StepStatus = 'Pending' | 'Running' | 'FinishedOk' | 'Failed' | 'Skipped';

/**
 * A flow's status, the one the reducer keeps (`status --json`'s `status`):
 * - `pending`: no attempt has started yet;
 * - `running`: an attempt started, and no step is `Failed` (a flow interrupted, or with a retry
 *   scheduled, is running);
 * - `failed`: a step is `Failed` and no retry of it is scheduled (a retry makes the flow open again);
 *   in a flow whose `onFailure` is `continue`, only once nothing else can run: no step is Running and
 *   every Pending step needs a Failed one, directly or indirectly (`blockedBy`);
 * - `completed`: `FlowCompleted` was recorded (final: nothing follows it);
 * - `cancelled`: `FlowCancelled` was recorded (final: no step starts again; the outcome of the attempt
 *   in flight may still be recorded, and a step may then be `Failed`).
 */
export type FlowStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/** The statuses in which no step of a flow starts again without an operator (a retry of a failed flow). */
export type EndedFlowStatus = Extract<FlowStatus, 'completed' | 'failed' | 'cancelled'>;

export const ENDED_STATUSES: readonly EndedFlowStatus[] = ['completed', 'failed', 'cancelled'];

const ENDED: ReadonlySet<string> = new Set(ENDED_STATUSES);

/** Whether a flow's status, or its queue row's, is one in which it ended. */
export function isEnded(status: string): status is EndedFlowStatus {
  return ENDED.has(status);
}

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
  /**
   * Index of the next step to run: the first step in `order` that has neither finished nor been
   * skipped (`steps.length` once every one has).
   */
  cursor: number;
  steps: StepSlot[];
  /** What each step needs (indexes): its input is their outputs, in this order. */
  needs: readonly (readonly number[])[];
  /** The order steps run in: each after all it needs (the definition's order for a list). */
  order: readonly number[];
  status: FlowStatus;
  flowFingerprint: string | null;
  /** What a step failed for good does to the rest of the flow (recorded in its FlowInitialized; `stop` when absent). */
  onFailure: OnFailure;
  /** The step policies recorded when the flow started; null for a log written before they were recorded. */
  policies: readonly StepPolicyRecord[] | null;
  /** Version of the last applied event; the `expectedVersion` of the next append. */
  version: number;
}

/** The first step that is `Failed` (in a list, the only one; branches of a graph may each fail), on a failed flow or a cancelled one. */
export function failedStep(flow: FlowInstance): StepSlot | undefined {
  return flow.steps.find((s) => s.status === 'Failed');
}

/** Whether every step that step `index` needs finished or was skipped: it may start. */
export function needsDone(flow: Pick<FlowInstance, 'needs' | 'steps'>, index: number): boolean {
  return (flow.needs[index] ?? []).every((i) => flow.steps[i]?.status === 'FinishedOk' || flow.steps[i]?.status === 'Skipped');
}

/**
 * The status of a flow neither completed nor cancelled, from its steps' statuses: failed when a step
 * is Failed, except in a flow whose `onFailure` is `continue` while a step still runs or may start
 * (`canStillRun`).
 */
export function openFlowStatus(flow: Pick<FlowInstance, 'needs' | 'steps' | 'onFailure'>): 'pending' | 'running' | 'failed' {
  let started = false;
  let failed = false;
  for (const step of flow.steps) {
    if (step.status === 'Failed') failed = true;
    if (step.status !== 'Pending' || step.attempts > 0) started = true;
  }
  if (failed && (flow.onFailure !== 'continue' || !canStillRun(flow))) return 'failed';
  return started ? 'running' : 'pending';
}

/**
 * Whether a step of the flow runs or may still start: one Running (a mapped step until its shards are
 * merged), or one Pending that needs no Failed step, directly or indirectly. A Failed step's own shards
 * still in flight do not count: they only record their outcome.
 */
export function canStillRun(flow: Pick<FlowInstance, 'needs' | 'steps'>): boolean {
  if (flow.steps.some((step) => step.status === 'Running')) return true;
  const blocked = blockedSteps(flow);
  return flow.steps.some((step, index) => step.status === 'Pending' && !blocked[index]);
}

const UNSEEN = 0;
const ON_PATH = 1;
const CLEAR = 2;
const BLOCKED = 3;

/**
 * Per step, whether it needs a Failed step, directly or indirectly: `blockedBy(flow, i).length > 0` for
 * every step at once, in one depth-first walk that settles each step after all it needs (each step and
 * each need looked at once). The reducer asks after every event of a flow whose `onFailure` is
 * `continue` once a step failed; asking `blockedBy` of each step walked the graph once per step.
 */
export function blockedSteps(flow: Pick<FlowInstance, 'needs' | 'steps'>): boolean[] {
  const mark = new Uint8Array(flow.steps.length);
  // The path from the walk's root to the step it is at, with how many of each step's needs it has entered.
  const path: number[] = [];
  const entered: number[] = [];
  for (let root = 0; root < mark.length; root++) {
    if (mark[root] !== UNSEEN) continue;
    mark[root] = ON_PATH;
    path.push(root);
    entered.push(0);
    while (path.length > 0) {
      const top = path.length - 1;
      const index = path[top] as number;
      const needs = flow.needs[index] ?? [];
      const next = needs[entered[top] as number];
      if (next !== undefined) {
        entered[top] = (entered[top] as number) + 1;
        // A need on the path would be a cycle, which a validated definition never has: passed over.
        if (mark[next] !== UNSEEN) continue;
        mark[next] = ON_PATH;
        path.push(next);
        entered.push(0);
        continue;
      }
      mark[index] = needs.some((need) => flow.steps[need]?.status === 'Failed' || mark[need] === BLOCKED) ? BLOCKED : CLEAR;
      path.pop();
      entered.pop();
    }
  }
  return Array.from(mark, (m) => m === BLOCKED);
}

/**
 * The Failed steps step `index` needs, directly or indirectly, in definition order: while there is
 * one, the step cannot start (a `chemflow retry` of each puts it back on its way).
 */
export function blockedBy(flow: Pick<FlowInstance, 'needs' | 'steps'>, index: number): number[] {
  return [...upstreamIndexes(flow.needs, index)].filter((i) => flow.steps[i]?.status === 'Failed').sort((a, b) => a - b);
}
