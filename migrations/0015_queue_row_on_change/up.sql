-- The flow queue's row holds what a claimer or a listing cannot read from the log: the status, the
-- due time, the lease, the name and the creation time. The log's head (the flow's version, its last
-- event's type and time) is read from the log itself (chemflow_flow_head), so the row need not be
-- written at every append: an append writes it only when the status, the due time or the lease
-- changes (or someone other than the appender may be looking at it: src/stores/sql/sql-fragments.ts,
-- `queueUpdate`): in a sequential flow run by its lease holder, the append that creates it and the one
-- that ends it, two of n + 1, where every append wrote it before.
ALTER TABLE flow_queue DROP COLUMN version, DROP COLUMN last_event_type, DROP COLUMN updated_at;

-- The flow's last event: its version, type and time. A set-returning SQL function, STABLE, so that
-- PostgreSQL inlines it into the statement that reads it: one probe of the unique (flow_id, version)
-- index, backwards, per flow (a listing's page, a claim's flows). No row for a flow with no events.
CREATE FUNCTION chemflow_flow_head(flow UUID) RETURNS TABLE (version INTEGER, event_type TEXT, ts TIMESTAMPTZ)
LANGUAGE sql STABLE ROWS 1 AS $$
  SELECT l.version, l.event_type, l.ts FROM event_log l WHERE l.flow_id = flow ORDER BY l.version DESC LIMIT 1
$$;

-- The flow's version as committed when it is called, not as the calling statement's snapshot saw it:
-- VOLATILE, so its query takes a snapshot of its own (READ COMMITTED). A release that waited for an
-- appender's lock on the row reads the appender's events through it (`releaseLeaseQuery`). 0 for no events.
CREATE FUNCTION chemflow_flow_version_now(flow UUID) RETURNS INTEGER
LANGUAGE sql VOLATILE AS $$
  SELECT coalesce(max(l.version), 0) FROM event_log l WHERE l.flow_id = flow
$$;

-- The rebuild of 0014 without the head's columns.
CREATE OR REPLACE FUNCTION chemflow_rebuild_flow_queue(only_flow UUID DEFAULT NULL) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
  affected INTEGER;
BEGIN
  INSERT INTO flow_queue (flow_id, name, status, next_due_at, created_at)
  SELECT first.flow_id, coalesce(first.payload->>'flowName', ''), projected.status,
    chemflow_queue_due(projected.status, last.payload, last.ts), first.ts
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
    name = EXCLUDED.name, status = EXCLUDED.status, next_due_at = EXCLUDED.next_due_at, created_at = EXCLUDED.created_at;
  GET DIAGNOSTICS affected = ROW_COUNT;
  RETURN affected;
END;
$$;
