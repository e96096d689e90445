DROP TABLE IF EXISTS flow_queue;
DROP FUNCTION IF EXISTS chemflow_notify_flow_queue();
DROP FUNCTION IF EXISTS chemflow_rebuild_flow_queue(UUID);
DROP FUNCTION IF EXISTS chemflow_queue_due(TEXT, JSONB, TIMESTAMPTZ);
DROP FUNCTION IF EXISTS chemflow_queue_status(TEXT, JSONB, TIMESTAMPTZ, BOOLEAN);
ALTER TABLE event_log DROP CONSTRAINT IF EXISTS event_log_event_type_check;
ALTER TABLE event_log ADD CONSTRAINT event_log_event_type_check CHECK (event_type IN (
  'FlowInitialized', 'StepStarted', 'StepSignal', 'StepFinished',
  'StepFailed', 'RetryScheduled', 'FlowCompleted'
));
