-- Before work items only shards were claimable: a step item left open would be taken for a shard, so
-- the step items go (their steps' logs are untouched; a coordinator runs such a step in its own process).
DELETE FROM flow_shards WHERE kind = 'step';
ALTER TABLE flow_shards DROP CONSTRAINT flow_shards_step_whole;
ALTER TABLE flow_shards DROP COLUMN kind;
