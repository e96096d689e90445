-- The work-item queue: flow_shards holds every piece of a flow that any worker may claim, the shards of
-- a mapped step (kind 'shard') and, for a graph, each runnable step as a whole (kind 'step', shard 0 of
-- 1). One claim statement, one lease and one heartbeat serve both. Scheduling only, as before: the log
-- says whether an item still has to run, and its claimer reads it first.
ALTER TABLE flow_shards ADD COLUMN kind TEXT NOT NULL DEFAULT 'shard' CHECK (kind IN ('shard', 'step'));
ALTER TABLE flow_shards ADD CONSTRAINT flow_shards_step_whole CHECK (kind = 'shard' OR (shard_index = 0 AND shard_count = 1));
