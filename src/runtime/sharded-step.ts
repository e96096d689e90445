import { setTimeout as delay } from 'node:timers/promises';
import { artifactBytes, isWholeArtifact, type StoredArtifact } from '../core/artifact.js';
import type { ChunkLimits } from '../core/chunk.js';
import { allShardsFinished, hasRunningAttempt, recordAttempt, slotAt, splitStartedEvent, startedEvent, type AttemptOutcome, type Recorded } from '../core/decide.js';
import type { FlowDefinition } from '../core/definition.js';
import { classifyError, LeaseLostError } from '../core/error-class.js';
import type { FlowPlan } from '../core/flow-plan.js';
import type { FlowInstance } from '../core/flow-state.js';
import { outputSizeProblem } from '../core/output-size.js';
import { checkMapInput } from '../core/shards.js';
import { mergeStoredShardOutputs } from './batch-shards.js';
import { combineSourceShards, sourceItemCount } from './source-split.js';
import type { FlowStore } from '../stores/flow-store.js';
import type { ShardDue } from '../stores/shard-queue.js';
import { recordLostOfCancelled } from './cancelled-attempts.js';
import type { Clock } from './clock.js';
import type { FlowSession } from './flow-session.js';
import type { Update } from './flow-writer.js';
import { refusedOutputsFailure } from './refused-outputs.js';
import { runShard, type ShardRunEnd, type ShardWork } from './shard-attempt.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { inputOf } from './step-attempt.js';
import { boundedHook, cacheEntryFor, planStepCache, type StepCachePlan } from './step-cache.js';
import { AttemptEndedError } from './step-runner.js';

export interface ShardedStepIo {
  store: FlowStore;
  clock: Clock;
  baseDir: string;
  leases: LeaseKeeper;
  /** Shards this process runs at once. */
  concurrency: number;
  /** How often the coordinator reads the log while other processes hold the remaining shards. */
  pollMs: number;
  /** Waits up to `ms`, or less when a worker gives a work item back (the engine's `nudge`); default: the full `ms`. */
  wait?: (ms: number) => Promise<void>;
  onRetry?: ShardWork['onRetry'];
  threads?: ShardWork['threads'];
  /** Where batch outputs are cut into chunks; default `DEFAULT_CHUNK_LIMITS`. */
  chunkLimits?: ChunkLimits | undefined;
  /** The cores and memory shard attempts wait for (see `ShardWork.resources`). */
  resources?: ShardWork['resources'];
  /** Where command steps make their attempts' directories. */
  workRoot?: string | undefined;
}

/**
 * Starts mapped step `index`: reads its input and commits its StepStarted with the number of shards
 * (`splitStartedEvent`). Returns false when it starts whole instead: its cache entry will satisfy it,
 * or its input does not fit its `map` (the attempt then fails, Validation, as an unsharded one does).
 */
export async function splitStep(session: FlowSession<FlowDefinition>, plan: FlowPlan, index: number, io: ShardedStepIo): Promise<boolean> {
  const step = session.definition.steps[index];
  const map = step?.map;
  if (step === undefined || map === undefined) throw new RangeError(`Step ${index} of flow ${session.flowId} is not a mapped step`);
  const cache = await coordinatorCachePlan(session, plan, index, io, session.flow);
  let shardCount: number | null = null;
  if (cache.hit === null) {
    try {
      const itemCount = step.split !== undefined ? await sourceItemCount(step, io.baseDir) : checkMapInput(await inputOf(session, index, io.store), map).itemCount;
      shardCount = Math.max(1, Math.ceil(itemCount / map.shardSize));
    } catch {
      shardCount = null; // run whole: the attempt reports what is wrong with the input
    }
  }
  await session.commit([shardCount === null ? startedEvent(session.flow, index) : splitStartedEvent(session.flow, index, shardCount)]);
  return shardCount !== null;
}

/** What became of a sharded step this process coordinated. */
export type ShardedStepEnd =
  | { kind: 'finished' }
  | { kind: 'failed'; outcome: AttemptOutcome | null }
  /** Stopped (lease lost, cancelled, or asked to stop) with shards left: the next holder of the flow goes on. */
  | { kind: 'stopped' };

/**
 * Coordinates the Running sharded step `index` of a flow this process holds the lease of: opens its
 * unfinished shards to every worker, runs as many as it can claim (up to `concurrency` at once), waits
 * for the others, then merges the shards' outputs in shard order into the step's StepFinished (with the
 * next step's StepStarted when `chain`). A shard failed for good fails the step and the flow; a merge
 * the shards disagree on fails the step (Validation).
 */
export async function runShardedStep(
  session: FlowSession<FlowDefinition>,
  plan: FlowPlan,
  index: number,
  io: ShardedStepIo,
  control: { stop: AbortSignal | undefined; chain: () => boolean; chainNext?: () => boolean },
): Promise<ShardedStepEnd> {
  const work = shardWorkOf(session, plan, index, io);
  await openUnfinished(io.store, session.flow, index);
  const running = new Set<Promise<ShardRunEnd>>();
  const stopped = (): boolean => control.stop?.aborted === true || !control.chain();
  try {
    for (;;) {
      const flow = session.flow;
      const slot = slotAt(flow, index);
      if (flow.status === 'cancelled' || flow.status === 'completed' || slot.status !== 'Running' || slot.shards === null) break;
      if (allShardsFinished(flow, index)) return await merge(work, io, control.chainNext ?? control.chain);
      const free = stopped() ? 0 : io.concurrency - running.size;
      const claimed = free > 0 ? await io.leases.claimItems(free, { flowId: session.flowId, kind: 'shard' }) : [];
      for (const lease of claimed) {
        const run: Promise<ShardRunEnd> = runShard(work, lease).finally(() => running.delete(run));
        running.add(run);
      }
      if (claimed.length > 0) continue;
      if (running.size > 0) await Promise.race([...running, delay(io.pollMs)]);
      else if (stopped()) break;
      else {
        // Every shard left is held by another process (or due later): look at the log again when one
        // is given back, or shortly.
        await (io.wait ?? delay)(io.pollMs);
        await session.refresh();
      }
    }
  } finally {
    // Shards in flight record their outcome before the coordinator lets go (a failed flow's, too).
    await Promise.allSettled(running);
  }
  // Stopped with shards left (cancelled, lease lost, asked to stop): say how the flow stands now.
  await session.refresh().catch(() => undefined);
  if (session.flow.status === 'cancelled' && !(control.stop?.reason instanceof LeaseLostError)) await settleCancelled(work, io);
  if (session.flow.status === 'failed' || slotAt(session.flow, index).status === 'Failed') return { kind: 'failed', outcome: null };
  return { kind: 'stopped' };
}

/**
 * The coordinator of a cancelled flow's sharded step, its own shards settled, ends what is left
 * Running (`recordLostOfCancelled`): shards whose holder is gone, then the step once no shard runs. A
 * live holder records its own shard at its next heartbeat; one that is gone lets its lease expire, so
 * this waits one shard lease at most, then leaves the rest to the holders still recording.
 */
async function settleCancelled(work: ShardWork, io: ShardedStepIo): Promise<void> {
  const deadline = io.clock.now() + io.leases.leaseMs + io.pollMs;
  try {
    for (;;) {
      await recordLostOfCancelled(work.session, work.plan, io.store, io.clock);
      if (!hasRunningAttempt(work.session.flow) || io.clock.now() > deadline) return;
      await delay(io.pollMs);
      await work.session.refresh();
    }
  } catch {
    // The cancellation is recorded; what is left is for `chemflow cancel`'s or a holder's next record.
  }
}

/** What this process needs to run shards of step `index` of a session: the input read once. */
export function shardWorkOf(session: FlowSession<FlowDefinition>, plan: FlowPlan, index: number, io: ShardedStepIo): ShardWork {
  let whole: Promise<StoredArtifact[]> | undefined;
  return {
    session,
    plan,
    index,
    input: () => (whole ??= inputOf(session, index, io.store)),
    clock: io.clock,
    baseDir: io.baseDir,
    leases: io.leases,
    ...(io.onRetry === undefined ? {} : { onRetry: io.onRetry }),
    threads: io.threads,
    blobs: io.store.blobs,
    chunkLimits: io.chunkLimits,
    resources: io.resources,
    workRoot: io.workRoot,
  };
}

/** Makes every shard that is not finished (or failed until a retry) claimable, at its due time. */
async function openUnfinished(store: FlowStore, flow: FlowInstance, index: number): Promise<void> {
  const shards = slotAt(flow, index).shards ?? [];
  const open = shards.flatMap((s, i): { index: number; due: ShardDue }[] => {
    if (s.status === 'FinishedOk' || s.status === 'Failed') return [];
    const at = s.notBefore === null ? null : Date.parse(s.notBefore);
    return [{ index: i, due: at === null ? 'now' : { at } }];
  });
  await store.openShards(flow.id, index, shards.length, open);
}

/** Merges the shards' outputs and commits the step's outcome. */
async function merge(work: ShardWork, io: ShardedStepIo, chain: () => boolean): Promise<ShardedStepEnd> {
  const { session, plan, index } = work;
  const step = session.definition.steps[index];
  const map = step?.map;
  if (step === undefined || map === undefined) throw new RangeError(`Step ${index} of flow ${session.flowId} is not a mapped step`);
  const shards = slotAt(session.flow, index).shards ?? [];
  const outputs = await io.store.getArtifacts(shards.flatMap((s) => s.outputs));
  let offset = 0;
  const perShard = shards.map((s) => outputs.slice(offset, (offset += s.outputs.length)));
  let merged: StoredArtifact[];
  let outcome: AttemptOutcome;
  try {
    const splitsItself = step.split !== undefined;
    const outputs = await mergeStoredShardOutputs(await work.input(), map, perShard, { blobs: io.store.blobs, ...(io.chunkLimits === undefined ? {} : { limits: io.chunkLimits }) }, { splitsItself });
    if (splitsItself) {
      // A source that split its own work: its `combine` makes the step's outputs of the merged ones.
      const limits = { stop: session.stop, timeoutMs: plan.steps[index]?.timeoutMs ?? null };
      const where = { baseDir: io.baseDir, attempt: Math.max(1, slotAt(session.flow, index).attempts) };
      ({ outcome, outputs: merged } = await combineSourceShards(step, outputs, session.flow, where, limits, { blobs: io.store.blobs, chunkLimits: io.chunkLimits }));
    } else {
      merged = outputs;
      outcome = { ok: true, outputs: merged.map((a) => a.hash), signals: [] };
    }
    // What the step's outputs hold whole is held to the limit of one attempt's, whatever each shard's were.
    const tooLarge = outputSizeProblem(merged.filter(isWholeArtifact).map(artifactBytes));
    if (tooLarge !== undefined) throw tooLarge;
  } catch (error) {
    merged = [];
    outcome = { ok: false, error: classifyError(error), signals: [] };
  }
  const cache = outcome.ok ? await coordinatorCachePlan(session, plan, index, io, session.flow) : null;
  const cacheEntry = cache?.key == null ? undefined : cacheEntryFor(step, index, cache.key);
  const commit = (outcome: AttemptOutcome, artifacts: readonly StoredArtifact[]) =>
    session.update((flow): Update<Recorded | null> => {
      if (slotAt(flow, index).status !== 'Running' || !allShardsFinished(flow, index)) return { events: [], result: null };
      const r = recordAttempt(flow, plan, index, outcome, { now: io.clock.now(), chain: chain() && flow.status !== 'cancelled' });
      return { events: r.events, result: r, ...(artifacts.length > 0 ? { artifacts } : {}), ...(cacheEntry === undefined || !outcome.ok ? {} : { cacheEntry }) };
    });
  let recorded: Recorded | null;
  try {
    recorded = await commit(outcome, merged);
  } catch (error) {
    // Merged outputs the database refuses for their size or content fail the step, as a step's own would.
    const refused = merged.length > 0 ? refusedOutputsFailure(error) : undefined;
    if (refused === undefined) throw error;
    outcome = { ok: false, error: refused, signals: [] };
    merged = [];
    recorded = await commit(outcome, merged);
  }
  for (const artifact of merged) session.artifacts.set(artifact.hash, artifact);
  if (recorded === null) return { kind: 'stopped' };
  return outcome.ok ? { kind: 'finished' } : { kind: 'failed', outcome };
}

/**
 * The coordinator's cache plan for mapped step `index`: its module's `cacheKey` hook bounded by the
 * step's timeout and the flow's stop, as in an attempt. A hook that did not finish in time gives no
 * key: the step runs (shard by shard, each bounded) and is recorded uncached.
 */
async function coordinatorCachePlan(session: FlowSession<FlowDefinition>, plan: FlowPlan, index: number, io: ShardedStepIo, flow: FlowInstance): Promise<StepCachePlan> {
  const step = session.definition.steps[index];
  if (step === undefined) throw new RangeError(`Flow ${session.flowId} has no step at index ${index}`);
  const limits = { stop: session.stop, timeoutMs: plan.steps[index]?.timeoutMs ?? null };
  const callHook = boundedHook(io.threads, limits, { flowId: session.flowId, attempt: slotAt(flow, index).attempts });
  try {
    return await planStepCache(io.store, step, flow, index, { baseDir: io.baseDir, engineVersion: plan.engineVersion, callHook });
  } catch (error) {
    if (error instanceof AttemptEndedError) return { key: null, hit: null };
    throw error;
  }
}
