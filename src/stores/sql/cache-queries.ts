import type { CachePruneOptions } from '../step-cache-index.js';
import type { SqlQuery } from './executor.js';
import { isoTimestamp } from './sql-fragments.js';

/**
 * The append statement's cache branch (migrations/0006_step_cache): the entry of the batch's clean
 * StepFinished at step index `$index`, read from the inserted event itself (flow, step id, outputs,
 * seq). Nothing is written when the events were not inserted (stale append), when the finish was
 * itself taken from the cache, or when the flow is (or becomes in this batch) cancelled — the
 * `flow_queue` read here is the snapshot before this statement. A newer source of a key replaces
 * the older one: a writer only writes after a miss, which may have been an entry whose artifacts
 * no longer verify.
 */
export function appendCacheEntry(key: number, index: number, stepType: number): string {
  return `cache_entry AS (
  INSERT INTO step_cache AS c (cache_key, flow_id, step_id, step_type, output_hashes, source_seq)
  SELECT $${key}::text, $1::uuid, i.payload->>'stepId', $${stepType}::text, i.payload->'outputs', i.seq
  FROM inserted i
  WHERE i.event_type = 'StepFinished' AND (i.payload->>'stepIndex')::int = $${index}::int
    AND jsonb_typeof(i.payload->'cachedFrom') IS DISTINCT FROM 'object'
    AND NOT EXISTS (SELECT 1 FROM inserted x WHERE x.event_type = 'FlowCancelled')
    AND NOT EXISTS (SELECT 1 FROM flow_queue q WHERE q.flow_id = $1::uuid AND q.status = 'cancelled')
  ON CONFLICT (cache_key) DO UPDATE SET
    flow_id = EXCLUDED.flow_id, step_id = EXCLUDED.step_id, step_type = EXCLUDED.step_type,
    output_hashes = EXCLUDED.output_hashes, source_seq = EXCLUDED.source_seq, created_at = now()
)`;
}

/** One primary-key lookup. */
export function lookupCacheQuery(key: string): SqlQuery {
  return {
    text: `SELECT cache_key, flow_id::text AS flow_id, step_id, step_type, output_hashes, ${isoTimestamp('created_at')} AS created_at
      FROM step_cache WHERE cache_key = $1::text`,
    values: [key],
  };
}

/**
 * Hits are counted on the partial index `event_log_cached_finish` (only cached finishes are in it);
 * bytes are those of the distinct artifacts the entries name: a whole one's `jsonb` text, a batch's
 * chunks, a file's size.
 */
export function cacheStatsQuery(): SqlQuery {
  return {
    text: `SELECT
      (SELECT count(*) FROM event_log
        WHERE event_type = 'StepFinished' AND jsonb_typeof(payload->'cachedFrom') = 'object')::bigint AS hits,
      (SELECT count(*) FROM step_cache)::bigint AS entries,
      (SELECT coalesce(sum(CASE a.form
          WHEN 'batch' THEN (SELECT coalesce(sum((chunk->>'bytes')::bigint), 0) FROM jsonb_array_elements(a.manifest->'chunks') AS chunk)
          WHEN 'file' THEN (a.manifest->>'size')::bigint
          ELSE octet_length(a.payload::text) END), 0) FROM workflow_step_artifacts a
        WHERE a.hash IN (SELECT jsonb_array_elements_text(c.output_hashes) FROM step_cache c))::bigint AS artifact_bytes`,
    values: [],
  };
}

/** Deletes the entries matching every given filter (served by the created_at and step_type indexes). */
export function pruneCacheQuery(options: CachePruneOptions): SqlQuery {
  return {
    text: `WITH deleted AS (
      DELETE FROM step_cache
      WHERE ($1::timestamptz IS NULL OR created_at < $1::timestamptz) AND ($2::text IS NULL OR step_type = $2::text)
      RETURNING 1
    ) SELECT count(*)::int AS deleted FROM deleted`,
    values: [options.olderThan?.toISOString() ?? null, options.stepType ?? null],
  };
}
