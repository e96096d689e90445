-- The step cache index (docs/cache.md): one row per cache key, naming a step that finished cleanly
-- and the artifacts it produced. Written in the same statement as that step's StepFinished. It is an
-- index, not evidence: the log stays the record (the StepFinished it points to), so this table alone
-- may be pruned (DELETE) and an entry is replaced by a newer source of the same key.
CREATE TABLE step_cache (
  cache_key TEXT PRIMARY KEY CHECK (cache_key ~ '^[0-9a-f]{64}$'),
  flow_id UUID NOT NULL,
  step_id TEXT NOT NULL,
  -- The step type (`uses`), for `chemflow cache prune --step-type`.
  step_type TEXT NOT NULL,
  -- The source's output artifact hashes, in order: a JSON array of hex strings.
  output_hashes JSONB NOT NULL CHECK (jsonb_typeof(output_hashes) = 'array'),
  -- The source's StepFinished.
  source_seq BIGINT NOT NULL REFERENCES event_log (seq),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- `cache prune --older-than` and `--step-type`: a range scan, never the whole table.
CREATE INDEX step_cache_created ON step_cache (created_at);
CREATE INDEX step_cache_type_created ON step_cache (step_type, created_at);

-- `cache stats` counts the steps satisfied from the cache: a partial index holds only those events,
-- so the count does not read the log.
CREATE INDEX event_log_cached_finish ON event_log (seq)
  WHERE event_type = 'StepFinished' AND jsonb_typeof(payload->'cachedFrom') = 'object';
