-- Puts back the rules of 0011 (status) and 0008 (rebuild). A flow whose onFailure is continue stays
-- readable by the older chemflow, which runs it as any other flow: its first failure for good fails it.
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

CREATE OR REPLACE FUNCTION chemflow_rebuild_flow_queue(only_flow UUID DEFAULT NULL) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
  affected INTEGER;
BEGIN
  INSERT INTO flow_queue (flow_id, name, status, version, last_event_type, next_due_at, created_at, updated_at)
  SELECT first.flow_id, coalesce(first.payload->>'flowName', ''), projected.status, last.version, last.event_type,
    chemflow_queue_due(projected.status, last.payload, last.ts), first.ts, last.ts
  FROM event_log first
  CROSS JOIN LATERAL (
    SELECT version, event_type, payload, ts FROM event_log l
    WHERE l.flow_id = first.flow_id ORDER BY version DESC LIMIT 1
  ) last
  CROSS JOIN LATERAL (
    SELECT chemflow_queue_status(last.event_type, last.payload, last.ts, EXISTS (
      SELECT 1 FROM event_log c WHERE c.flow_id = first.flow_id AND c.event_type = 'FlowCancelled'
    )) AS status
  ) by_last
  CROSS JOIN LATERAL (
    SELECT CASE
      WHEN by_last.status = 'running' AND last.event_type IN ('StepFinished', 'StepSignal') THEN
        CASE WHEN (
          SELECT o.event_type FROM event_log o
          WHERE o.flow_id = first.flow_id
            AND NOT (o.event_type = 'StepSignal' OR (o.event_type = 'StepFinished' AND o.payload ? 'shard'))
          ORDER BY o.version DESC LIMIT 1
        ) = 'StepFailed' THEN 'failed' ELSE 'running' END
      ELSE by_last.status
    END AS status
  ) projected
  WHERE first.version = 1 AND (only_flow IS NULL OR first.flow_id = only_flow)
  ON CONFLICT (flow_id) DO UPDATE SET
    name = EXCLUDED.name, status = EXCLUDED.status, version = EXCLUDED.version,
    last_event_type = EXCLUDED.last_event_type, next_due_at = EXCLUDED.next_due_at,
    created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at;
  GET DIAGNOSTICS affected = ROW_COUNT;
  RETURN affected;
END;
$$;
