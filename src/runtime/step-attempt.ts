import type { StoredArtifact } from '../core/artifact.js';
import type { ChunkLimits } from '../core/chunk.js';
import { outputNameOf } from '../core/command-inputs.js';
import { corruptInputFailure, inputHashesOf, slotAt, type AttemptOutcome } from '../core/decide.js';
import { isChain } from '../core/step-graph.js';
import type { FlowPlan } from '../core/flow-plan.js';
import type { FlowDefinition } from '../core/definition.js';
import { ArtifactIntegrityError } from '../core/errors.js';
import type { FlowStore } from '../stores/flow-store.js';
import type { CacheEntryInput } from '../stores/step-cache-index.js';
import type { FlowSession } from './flow-session.js';
import { boundedHook, cacheEntryFor, planStepCache, type StepCachePlan } from './step-cache.js';
import { withFlowViews } from './flow-views.js';
import { AttemptEndedError, runAttempt, type AttemptContext } from './step-runner.js';
import type { StepThreads } from './step-threads.js';
import type { ResourcePool } from './resource-pool.js';

/** What one attempt produced: its outcome as `recordAttempt` takes it, and the artifacts to store. */
export interface AttemptRun {
  outcome: AttemptOutcome;
  /** New artifacts to store with the outcome (none when it came from the cache); batches and files as manifests. */
  outputs: StoredArtifact[];
  /** The step cache entry to record with a clean finish of a step run with the cache on. */
  cacheEntry: CacheEntryInput | undefined;
  /** The input was corrupt: the step never ran, and nothing may be chained to this failure. */
  corruptInput: boolean;
}

/** Where an attempt reads and writes, and what stops it. */
export interface StepAttemptIo {
  store: FlowStore;
  baseDir: string;
  threads?: StepThreads | undefined;
  chunkLimits?: ChunkLimits | undefined;
  resources?: ResourcePool | undefined;
  workRoot?: string | undefined;
  /** Aborts the attempt; default the session's (its flow lease's signal). */
  stop?: AbortSignal | undefined;
}

/**
 * Runs the Running attempt of step `index` of a session: takes it from the step cache when the step
 * has the cache on and a verified entry exists (docs/cache.md), else reads its input and runs its code.
 */
export async function runStepAttempt(
  session: FlowSession<FlowDefinition>,
  plan: FlowPlan,
  index: number,
  io: StepAttemptIo,
): Promise<AttemptRun> {
  // What stops the attempt: the flow's lease (its coordinator), or the work item's lease (a graph step run by any worker).
  const stop = io.stop ?? session.stop;
  const step = session.definition.steps[index];
  if (step === undefined) throw new RangeError(`Flow ${session.flowId} has no step at index ${index}`);
  const attempt = slotAt(session.flow, index).attempts;
  // One time budget for all the step's code runs in this attempt: its cacheKey hook, then `run`.
  const timeoutMs = plan.steps[index]?.timeoutMs ?? null;
  const hookStarted = Date.now();
  let cache: StepCachePlan;
  try {
    const callHook = boundedHook(io.threads, { stop, timeoutMs }, { flowId: session.flowId, attempt });
    cache = await planStepCache(io.store, step, session.flow, index, { baseDir: io.baseDir, engineVersion: plan.engineVersion, callHook });
  } catch (error) {
    if (!(error instanceof AttemptEndedError)) throw error;
    return { outcome: { ok: false, error: error.failure, signals: [] }, outputs: [], cacheEntry: undefined, corruptInput: false };
  }
  const hookMs = step.cache?.cacheKey === undefined ? 0 : Date.now() - hookStarted;
  if (cache.hit !== null) {
    for (const artifact of cache.hit.artifacts) session.artifacts.set(artifact.hash, artifact);
    const outcome = { ok: true as const, outputs: cache.hit.outputs, signals: [], cachedFrom: cache.hit.source };
    return { outcome, outputs: [], cacheEntry: undefined, corruptInput: false };
  }
  let input: StoredArtifact[];
  try {
    input = await inputOf(session, index, io.store);
  } catch (error) {
    if (!(error instanceof ArtifactIntegrityError)) throw error;
    // A corrupt input is never handed to the step; the attempt fails for good and the audit row says why.
    return { outcome: { ok: false, error: corruptInputFailure(error), signals: [] }, outputs: [], cacheEntry: undefined, corruptInput: true };
  }
  const inputNames = namedInputsOf(session, index, input);
  // Optional members set after, not spread in: a literal with spreads in it is built on V8's slow path.
  const context: { -readonly [K in keyof AttemptContext]: AttemptContext[K] } = withFlowViews(
    { input, attempt, flowId: session.flowId, stepId: step.id, baseDir: io.baseDir },
    session.flow,
  );
  if (Object.keys(inputNames).length > 0) context.inputNames = inputNames;
  if (io.workRoot !== undefined) context.workRoot = io.workRoot;
  // In a thread when it can: a long synchronous step (RDKit) then never stalls the heartbeat that keeps
  // its lease, so no other worker takes a live attempt for a lost one.
  const run = io.threads?.canRun(step) === true ? io.threads.run.bind(io.threads) : runAttempt;
  const limits = { stop, timeoutMs: timeoutMs === null ? null : Math.max(1, timeoutMs - hookMs) };
  // Taken from the cache, an attempt needs no cores; one that runs waits for them, outside its timeout.
  const release = io.resources === undefined ? () => undefined : await io.resources.acquire(step.resources, stop);
  const result = await run(step, context, limits, { blobs: io.store.blobs, chunkLimits: io.chunkLimits }).finally(release);
  if (!result.ok) return { outcome: result, outputs: [], cacheEntry: undefined, corruptInput: false };
  for (const artifact of result.outputs) session.artifacts.set(artifact.hash, artifact);
  const outcome = { ok: true as const, outputs: result.outputs.map((a) => a.hash), signals: result.signals };
  return { outcome, outputs: result.outputs, cacheEntry: cache.key === null ? undefined : cacheEntryFor(step, index, cache.key), corruptInput: false };
}

/**
 * The outputs of the steps step `index` needs, in its needs' order, from the session's memory when it
 * produced them, else from the store: whole artifacts, and batches and files as their manifests (their
 * bytes stay in the blob store).
 */
export async function inputOf(session: FlowSession<FlowDefinition>, index: number, store: FlowStore): Promise<StoredArtifact[]> {
  const input = await sessionArtifacts(session, inputHashesOf(session.flow, index), store);
  // In a list only the latest step's outputs are needed again: keep memory flat on long flows. A graph
  // keeps what it read (manifests and small payloads): a later branch may need it.
  if (isChain(session.flow.needs)) session.artifacts = new Map(input.map((a) => [a.hash, a]));
  return input;
}

/** The artifacts of `hashes`, in order: from the session's memory, else read from the store (and kept there). */
export async function sessionArtifacts(session: FlowSession<FlowDefinition>, hashes: readonly string[], store: FlowStore): Promise<StoredArtifact[]> {
  const missing = hashes.filter((h) => !session.artifacts.has(h));
  if (missing.length > 0) for (const a of await store.getArtifacts(missing)) session.artifacts.set(a.hash, a);
  return hashes.flatMap((h) => session.artifacts.get(h) ?? []);
}

/**
 * Where each of step `index`'s named inputs is in its input (`ctx.inputs.NAME` is `ctx.input[i]`): the
 * only output of the step it names, or the output of that name. A name that finds none, or several,
 * is left out (the step sees it undefined).
 */
export function namedInputsOf(session: FlowSession<FlowDefinition>, index: number, input: readonly StoredArtifact[]): Record<string, number> {
  const inputs = session.definition.steps[index]?.inputs;
  if (inputs === undefined) return {};
  const needs = session.flow.needs[index] ?? [];
  // Which positions of `input` each needed step's outputs take.
  const positions = new Map<string, number[]>();
  let at = 0;
  for (const need of needs) {
    const slot = slotAt(session.flow, need);
    positions.set(slot.stepId, slot.outputs.map((_, i) => at + i));
    at += slot.outputs.length;
  }
  const named: Record<string, number> = {};
  for (const [name, ref] of Object.entries(inputs)) {
    const candidates = positions.get(ref.step) ?? [];
    const matching = ref.output === null ? candidates : candidates.filter((i) => input[i] !== undefined && outputNameOf(input[i]) === ref.output);
    if (matching.length === 1) named[name] = matching[0] as number;
  }
  return named;
}
