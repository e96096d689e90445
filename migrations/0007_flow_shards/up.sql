-- Sharded map steps (docs/map.md): the shards of a Running sharded step are work items that any worker
-- may claim, each under its own lease, as flows are claimed in flow_queue. Scheduling only: the log
-- records every shard's attempts, and a claimer reads it before it runs anything.
CREATE TABLE flow_shards (
  flow_id UUID NOT NULL,
  step_index INTEGER NOT NULL CHECK (step_index >= 0),
  shard_index INTEGER NOT NULL CHECK (shard_index >= 0),
  shard_count INTEGER NOT NULL CHECK (shard_index < shard_count),
  -- When the shard may run next; NULL when there is nothing to run (finished, or failed until a retry).
  due_at TIMESTAMPTZ,
  lease_owner TEXT,
  lease_expires_at TIMESTAMPTZ,
  PRIMARY KEY (flow_id, step_index, shard_index),
  CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);

-- Claims and wake-ups read only open shards: the partial index does not grow with finished ones.
CREATE INDEX flow_shards_due ON flow_shards (due_at) WHERE due_at IS NOT NULL;

-- A shard's events (payload.shard) leave its flow running: the step runs until its shards are merged.
-- Only a shard's failure with no retry after it fails the flow, as a step's does.
CREATE OR REPLACE FUNCTION chemflow_queue_status(event_type TEXT, payload JSONB, ts TIMESTAMPTZ, was_cancelled BOOLEAN)
RETURNS TEXT LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN was_cancelled OR event_type = 'FlowCancelled' THEN 'cancelled'
    WHEN payload ? 'shard' AND event_type <> 'StepFailed' THEN 'running'
    WHEN event_type IN ('FlowInitialized', 'StepFinished') THEN 'pending'
    WHEN event_type IN ('StepStarted', 'StepSignal') THEN 'running'
    WHEN event_type = 'StepFailed' THEN 'failed'
    WHEN event_type = 'RetryScheduled' AND (payload->>'notBefore')::timestamptz > ts THEN 'waiting'
    WHEN event_type = 'RetryScheduled' THEN 'pending'
    WHEN event_type = 'FlowCompleted' THEN 'completed'
  END
$$;
