-- The older schema has no StepSkipped: reverting while a log holds one would leave an event the older
-- chemflow cannot read, so it is refused and nothing changes.
DO $$
DECLARE
  kept BIGINT;
BEGIN
  SELECT count(*) INTO kept FROM event_log WHERE event_type = 'StepSkipped';
  IF kept > 0 THEN
    RAISE EXCEPTION 'cannot revert migration 0011_step_skipped: % StepSkipped event(s) are stored, which the older schema cannot hold', kept
      USING ERRCODE = 'restrict_violation';
  END IF;
END;
$$;
ALTER TABLE event_log DROP CONSTRAINT IF EXISTS event_log_event_type_check;
ALTER TABLE event_log ADD CONSTRAINT event_log_event_type_check CHECK (event_type IN (
  'FlowInitialized', 'StepStarted', 'StepSignal', 'StepFinished',
  'StepFailed', 'RetryScheduled', 'FlowCompleted', 'FlowCancelled'
));
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
