import type { JsonObject } from '../core/canonical-json.js';
import type { FlowShape } from '../core/definition.js';
import { FlowNotFoundError } from '../core/errors.js';
import { needIds } from '../core/flow-steps.js';
import type { CachedFrom, FlowEvent } from '../core/events.js';
import { blockedBy, type FlowInstance, type FlowStatus, type StepSlot, type StepStatus } from '../core/flow-state.js';
import { replay, shapeFromEvents } from '../core/reducer.js';
import type { ErrorCounts } from '../core/step-execution-error.js';
import type { FlowStore } from '../stores/flow-store.js';

/** `run`/`resume`/`status --json`: a public contract, field names are stable. */
export interface FlowReport {
  flowId: string;
  status: FlowStatus;
  flowFingerprint: string | null;
  steps: StepReport[];
  errors: ErrorCounts;
}

export interface StepReport {
  stepId: string;
  /** The steps whose outputs are its input, in that order (the step before it, in a flow written as a list). */
  needs: string[];
  status: StepStatus;
  fingerprint: string | null;
  attempts: number;
  retryCount: number;
  /** Satisfied from the step cache (docs/cache.md) rather than run. */
  cached: boolean;
  /** The step it was taken from, when cached. */
  cachedFrom: CachedFrom | null;
  /** How far the shards of a mapped step's current attempt got; null for a step that runs whole. */
  shards: ShardCounts | null;
  /**
   * Set on a Pending step that needs a Failed step, directly or indirectly: their ids. It cannot start
   * until each is retried (`chemflow retry`); absent on every other step.
   */
  blockedBy?: string[];
}

/** `status --json` `steps[].shards`: counts over the shards of a sharded step (docs/map.md). */
export interface ShardCounts {
  total: number;
  finished: number;
  failed: number;
  running: number;
}

/** The shard counts of a step; null when it did not start sharded (unmapped, not started yet, or reset by a retry of the whole step). */
export function shardCounts(slot: StepSlot): ShardCounts | null {
  if (slot.shards === null) return null;
  const counts: ShardCounts = { total: slot.shards.length, finished: 0, failed: 0, running: 0 };
  for (const shard of slot.shards) {
    if (shard.status === 'FinishedOk') counts.finished += 1;
    else if (shard.status === 'Failed') counts.failed += 1;
    else if (shard.status === 'Running') counts.running += 1;
  }
  return counts;
}

export function flowReport(flow: FlowInstance, errors: ErrorCounts): FlowReport {
  return {
    flowId: flow.id,
    status: flow.status,
    flowFingerprint: flow.flowFingerprint,
    steps: flow.steps.map((s, i) => ({
      stepId: s.stepId,
      needs: needIds(flow, i),
      status: s.status,
      fingerprint: s.fingerprint,
      attempts: s.attempts,
      retryCount: s.retryCount,
      cached: s.cachedFrom !== null,
      cachedFrom: s.cachedFrom === null ? null : { ...s.cachedFrom },
      shards: shardCounts(s),
      ...blockedField(flow, i),
    })),
    errors: { total: errors.total, byClass: { ...errors.byClass } },
  };
}

function blockedField(flow: FlowInstance, index: number): { blockedBy?: string[] } {
  if (flow.steps[index]?.status !== 'Pending') return {};
  const blocking = blockedBy(flow, index);
  return blocking.length === 0 ? {} : { blockedBy: blocking.map((i) => flow.steps[i]?.stepId ?? String(i)) };
}

/** A stored flow read without its step code: events, the shape they record, and the replayed state. */
export interface StoredFlow {
  events: FlowEvent[];
  shape: FlowShape;
  flow: FlowInstance;
  metadata: JsonObject;
}

export async function readStoredFlow(store: FlowStore, flowId: string): Promise<StoredFlow> {
  const events = await store.list(flowId);
  const shape = shapeFromEvents(events);
  const first = events[0];
  if (shape === undefined || first?.type !== 'FlowInitialized') throw new FlowNotFoundError(flowId);
  return { events, shape, flow: replay(flowId, events, shape), metadata: first.metadata };
}
