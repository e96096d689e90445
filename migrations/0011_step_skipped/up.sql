-- StepSkipped: a step of a graph whose condition was false, or every step it needs was skipped. It
-- leaves its flow due, as a StepFinished does: the next step, or the FlowCompleted, comes next.
ALTER TABLE event_log DROP CONSTRAINT IF EXISTS event_log_event_type_check;
ALTER TABLE event_log ADD CONSTRAINT event_log_event_type_check CHECK (event_type IN (
  'FlowInitialized', 'StepStarted', 'StepSignal', 'StepFinished',
  'StepFailed', 'RetryScheduled', 'StepSkipped', 'FlowCompleted', 'FlowCancelled'
));

CREATE OR REPLACE FUNCTION chemflow_queue_status(event_type TEXT, payload JSONB, ts TIMESTAMPTZ, was_cancelled BOOLEAN)
RETURNS TEXT LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN was_cancelled OR event_type = 'FlowCancelled' THEN 'cancelled'
    WHEN payload ? 'shard' AND event_type <> 'StepFailed' THEN 'running'
    WHEN event_type IN ('FlowInitialized', 'StepFinished', 'StepSkipped') THEN 'pending'
    WHEN event_type IN ('StepStarted', 'StepSignal') THEN 'running'
    WHEN event_type = 'StepFailed' THEN 'failed'
    WHEN event_type = 'RetryScheduled' AND (payload->>'notBefore')::timestamptz > ts THEN 'waiting'
    WHEN event_type = 'RetryScheduled' THEN 'pending'
    WHEN event_type = 'FlowCompleted' THEN 'completed'
  END
$$;
