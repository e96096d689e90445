import { inputHashesOf } from '../core/decide.js';
import type { StoredArtifact } from '../core/artifact.js';
import { stepCacheKey } from '../core/cache-key.js';
import type { JsonValue } from '../core/canonical-json.js';
import { isStepCached, type CachedStepEntry, type CacheKeyContext, type StepDefinition } from '../core/definition.js';
import { ArtifactIntegrityError, ArtifactNotFoundError } from '../core/errors.js';
import type { CachedFrom } from '../core/events.js';
import type { FlowInstance } from '../core/flow-state.js';
import type { FlowStore } from '../stores/flow-store.js';
import type { CacheEntryInput } from '../stores/step-cache-index.js';
import { AttemptEndedError, withinLimits, type AttemptLimits } from './step-runner.js';
import type { StepThreads } from './step-threads.js';

/** Where a step's cache key is computed: what `StepContext` also has. */
export interface CacheKeyOptions {
  /** Directory relative paths in params refer to (the engine's `baseDir`). */
  baseDir: string;
  /** The engine's version (`ENGINE_VERSION` by default), as in the fingerprint. */
  engineVersion?: string;
  /**
   * Calls the step's `cacheKey` hook; default: directly, unbounded. The engine passes `boundedHook`:
   * the hook is step code, bounded by the attempt's timeout and stop like `run`.
   */
  callHook?: (step: StepDefinition, ctx: CacheKeyContext) => Promise<JsonValue>;
}

/**
 * Runs `step`'s `cacheKey` hook within an attempt's limits: in a step thread when the step runs in
 * one (a hook that computes without yielding is stopped there), else in this thread. Rejects with
 * `AttemptEndedError` when the attempt ends first.
 */
export function boundedHook(
  threads: StepThreads | undefined,
  limits: AttemptLimits,
  attempt: { flowId: string; attempt: number },
): NonNullable<CacheKeyOptions['callHook']> {
  return (step, ctx) => {
    if (threads?.canRun(step) === true) return threads.cacheKey(step, { ...ctx, ...attempt }, limits);
    const cache = step.cache;
    if (cache?.cacheKey === undefined) return Promise.resolve(null);
    return withinLimits(() => cache.cacheKey!(step.baseParams, ctx), limits);
  };
}

/**
 * The step's cache key for these inputs, or null when the cache does not apply: it is off, the module
 * declares `cacheable: false`, or its `cacheKey` hook threw (the step then runs, uncached, and fails
 * there if the hook's cause is real, e.g. a missing file). Rejects with `AttemptEndedError` when
 * `callHook` says the attempt ended (timed out, stopped) while the hook ran.
 */
export async function cacheKeyFor(
  step: StepDefinition,
  inputHashes: readonly string[],
  options: CacheKeyOptions,
): Promise<string | null> {
  const cache = step.cache;
  if (cache === undefined || !isStepCached(step)) return null;
  let added: JsonValue = null;
  if (cache.cacheKey !== undefined) {
    const ctx = { baseDir: options.baseDir, inputHashes: [...inputHashes] };
    try {
      added = await (options.callHook === undefined ? cache.cacheKey(step.baseParams, ctx) : options.callHook(step, ctx));
    } catch (error) {
      if (error instanceof AttemptEndedError) throw error;
      return null;
    }
  }
  const extra: JsonValue = cache.codeHash === undefined && cache.cacheKey === undefined ? null : { code: cache.codeHash ?? null, module: added };
  try {
    return stepCacheKey({
      ...(options.engineVersion === undefined ? {} : { engineVersion: options.engineVersion }),
      stepType: cache.stepType,
      stepVersion: step.version ?? null,
      inputHashes,
      params: step.baseParams,
      extra,
    });
  } catch {
    return null; // a hook that returned something canonical JSON cannot hold: no key, no cache
  }
}

/** A usable cache entry: its source, and its output artifacts read back and verified. */
export interface CacheHit {
  key: string;
  source: CachedFrom;
  outputs: string[];
  artifacts: StoredArtifact[];
}

/**
 * The cache hit of `key`, or null. One indexed lookup, then the outputs are read through
 * `getArtifacts`, which verifies each against its hash: an entry whose artifacts are missing or were
 * changed is a miss, never used (the step runs, and its clean finish replaces the entry).
 */
export async function findCached(store: Pick<FlowStore, 'lookupCache' | 'getArtifacts'>, key: string): Promise<CacheHit | null> {
  const entry = await store.lookupCache(key);
  if (entry === null) return null;
  let artifacts: StoredArtifact[];
  try {
    artifacts = await store.getArtifacts(entry.outputs);
  } catch (error) {
    if (error instanceof ArtifactIntegrityError || error instanceof ArtifactNotFoundError) return null;
    throw error;
  }
  return { key, source: { flowId: entry.flowId, stepId: entry.stepId }, outputs: entry.outputs, artifacts };
}

/** `AppendOptions.cacheEntry` for a step that ran with the cache on: appended with its StepFinished. */
export function cacheEntryFor(step: StepDefinition, stepIndex: number, key: string): CacheEntryInput | undefined {
  return step.cache === undefined ? undefined : { key, stepIndex, stepType: step.cache.stepType };
}

/** What the engine needs before step `index` runs: the key to record on a clean finish, and a hit. */
export interface StepCachePlan {
  /** Null when the cache does not apply to this step: run it, and record no entry. */
  key: string | null;
  /** A verified entry: the attempt's outcome is its outputs, with `cachedFrom` (see `recordAttempt`). */
  hit: CacheHit | null;
}

/**
 * The engine's one call before step `index` of `flow` runs (Pending, or Running and started by this
 * process): its key from the previous step's outputs, then the lookup. Cheap when the cache is off:
 * no query at all.
 */
export async function planStepCache(
  store: Pick<FlowStore, 'lookupCache' | 'getArtifacts'>,
  step: StepDefinition,
  flow: FlowInstance,
  index: number,
  options: CacheKeyOptions,
): Promise<StepCachePlan> {
  // Most steps have the cache off: no input hashes to gather, no key to compute.
  if (!isStepCached(step)) return { key: null, hit: null };
  const key = await cacheKeyFor(step, inputHashesOf(flow, index), options);
  return { key, hit: key === null ? null : await findCached(store, key) };
}

/** `StepContext.cachedSteps` for a step about to run: the flow's steps taken from the cache so far. */
export function cachedStepsOf(flow: FlowInstance): CachedStepEntry[] {
  const cached: CachedStepEntry[] = [];
  for (const s of flow.steps) if (s.cachedFrom !== null) cached.push({ stepId: s.stepId, cachedFrom: { ...s.cachedFrom } });
  return cached;
}
