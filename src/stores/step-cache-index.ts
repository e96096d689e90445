import { StoreError } from '../core/errors.js';
import type { EventOf, FlowEvent } from '../core/events.js';

/**
 * The step cache entry that a step's clean StepFinished in an append batch becomes (docs/cache.md).
 * The flow, step id and outputs are read from that event, so the entry can never disagree with the log.
 */
export interface CacheEntryInput {
  /** The step's cache key (`stepCacheKey`, 64 hex digits). */
  key: string;
  /** Index of the batch's StepFinished (a step that ran, without `cachedFrom`) that is the source. */
  stepIndex: number;
  /** The step type (`uses`), kept for `pruneCache({ stepType })`. */
  stepType: string;
}

/** One row of the cache index: a step that finished cleanly, and the artifacts it produced. */
export interface CacheEntry {
  key: string;
  flowId: string;
  stepId: string;
  stepType: string;
  /** Output artifact hashes, in the order of its StepFinished. */
  outputs: string[];
  /** When the entry was written (ISO 8601). */
  createdAt: string;
}

export interface CacheStats {
  /** Steps satisfied from the cache: StepFinished events with `cachedFrom`, in every flow. */
  hits: number;
  /** Rows of the cache index (steps a later flow may take from the cache). */
  entries: number;
  /**
   * Size of the distinct artifacts the entries name: a whole one's JSON payload as the store holds it,
   * the bytes of a batch's chunks, a file's size.
   */
  artifactBytes: number;
}

/** Which entries `pruneCache` drops: all the given filters must match (no filter: every entry). */
export interface CachePruneOptions {
  /** Entries written before this time. */
  olderThan?: Date;
  /** Entries of this step type (`uses`). */
  stepType?: string;
}

/**
 * The step cache's index: separate from the append-only log, so it can be pruned without touching
 * history. Entries are written only by `append` (`AppendOptions.cacheEntry`), in its transaction.
 */
export interface StepCacheIndex {
  /** The entry of a cache key, or null: one primary-key lookup. Its artifacts are not checked here. */
  lookupCache(key: string): Promise<CacheEntry | null>;
  cacheStats(): Promise<CacheStats>;
  /** Deletes matching entries; returns how many. The log and the artifacts are never touched. */
  pruneCache(options?: CachePruneOptions): Promise<number>;
}

const KEY = /^[0-9a-f]{64}$/;

/** The StepFinished of a batch that `entry` names: a step that ran (no `cachedFrom`) at its index. */
export function cacheSourceIn(events: readonly FlowEvent[], entry: CacheEntryInput): EventOf<'StepFinished'> | undefined {
  return events.find(
    (e): e is EventOf<'StepFinished'> =>
      e.type === 'StepFinished' && e.stepIndex === entry.stepIndex && (e.cachedFrom ?? null) === null,
  );
}

/**
 * Checked before anything is written, as `unstorableInBatch` is: a key that is not a hash, or no clean
 * StepFinished at that index in the batch, is a caller's bug, reported as a `StoreError`.
 */
export function cacheEntryProblem(
  flowId: string,
  events: readonly FlowEvent[],
  entry: CacheEntryInput | undefined,
): StoreError | undefined {
  if (entry === undefined) return undefined;
  const problem = (reason: string) => new StoreError(`append to flow ${flowId}`, `cache entry ${reason}`, { failure: 'refused' });
  if (!KEY.test(entry.key)) return problem(`key ${JSON.stringify(entry.key)} is not a 64-digit hex hash`);
  if (entry.stepType === '') return problem('has an empty step type');
  if (cacheSourceIn(events, entry) === undefined)
    return problem(`names step ${entry.stepIndex}, which has no StepFinished of a step that ran in this batch`);
  return undefined;
}

/** A batch that cancels its flow, or follows a cancellation, never becomes a cache source. */
export function cancelsFlow(events: readonly FlowEvent[]): boolean {
  return events.some((e) => e.type === 'FlowCancelled');
}
