-- Restores the rebuild of migration 0004 (rows set right by 0008's repair stay right: appends agree).
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
