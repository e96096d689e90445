-- Puts the head's columns back on the flow queue, filled from each flow's last event (what the
-- appends of the older chemflow wrote there), and the rebuild of 0014 that writes them.
ALTER TABLE flow_queue ADD COLUMN version INTEGER, ADD COLUMN last_event_type TEXT, ADD COLUMN updated_at TIMESTAMPTZ;
UPDATE flow_queue q SET version = h.version, last_event_type = h.event_type, updated_at = h.ts
FROM event_log h
WHERE h.flow_id = q.flow_id AND h.version = (SELECT max(l.version) FROM event_log l WHERE l.flow_id = q.flow_id);
ALTER TABLE flow_queue
  ALTER COLUMN version SET NOT NULL, ALTER COLUMN last_event_type SET NOT NULL, ALTER COLUMN updated_at SET NOT NULL,
  ADD CONSTRAINT flow_queue_version_check CHECK (version > 0);

DROP FUNCTION chemflow_flow_version_now(UUID);
DROP FUNCTION chemflow_flow_head(UUID);

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
          SELECT chemflow_queue_status(o.event_type, o.payload, o.ts, false) FROM event_log o
          WHERE o.flow_id = first.flow_id
            AND NOT (o.event_type = 'StepSignal' OR (o.event_type = 'StepFinished' AND o.payload ? 'shard'))
          ORDER BY o.version DESC LIMIT 1
        ) = 'failed' THEN 'failed' ELSE 'running' END
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
