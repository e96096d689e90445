import type { CacheEntry, CachePruneOptions, CacheStats, StepCacheIndex } from '../step-cache-index.js';
import { cacheStatsQuery, lookupCacheQuery, pruneCacheQuery } from './cache-queries.js';
import { run, type SqlExecutor } from './executor.js';
import { withRetry } from './transient.js';

interface CacheRow {
  cache_key: string;
  flow_id: string;
  step_id: string;
  step_type: string;
  output_hashes: string[];
  created_at: string;
}

/** BIGINT arrives as a string from `pg` and as a number from PGlite. */
interface StatsRow {
  hits: string | number;
  entries: string | number;
  artifact_bytes: string | number;
}

/** The `step_cache` table (migrations/0006_step_cache); entries are written by `PgEventStore.append`. */
export class PgStepCache implements StepCacheIndex {
  constructor(private readonly executor: SqlExecutor) {}

  async lookupCache(key: string): Promise<CacheEntry | null> {
    const rows = await withRetry('look up the step cache', () => run<CacheRow>(this.executor, lookupCacheQuery(key)));
    const row = rows[0];
    if (row === undefined) return null;
    return {
      key: row.cache_key,
      flowId: row.flow_id,
      stepId: row.step_id,
      stepType: row.step_type,
      outputs: row.output_hashes,
      createdAt: row.created_at,
    };
  }

  async cacheStats(): Promise<CacheStats> {
    const [row] = await withRetry('read the step cache statistics', () => run<StatsRow>(this.executor, cacheStatsQuery()));
    return { hits: Number(row?.hits ?? 0), entries: Number(row?.entries ?? 0), artifactBytes: Number(row?.artifact_bytes ?? 0) };
  }

  /** A retry after a lost connection deletes what is left: the count then misses what the lost attempt deleted. */
  async pruneCache(options: CachePruneOptions = {}): Promise<number> {
    const [row] = await withRetry('prune the step cache', () => run<{ deleted: number }>(this.executor, pruneCacheQuery(options)));
    return row?.deleted ?? 0;
  }
}
