-- The rebuild gives the row the appends give for a sharded flow whose shard failed for good. The append
-- statement merges each batch into the flow's row (QUEUE_MERGE, src/stores/sql/sql-fragments.ts): a
-- StepFinished or StepSignal that leaves the flow running (a shard's outcome; a signal) recorded while
-- the row is failed keeps it failed. The rebuild of 0004 read only the last event, so a sibling shard's
-- outcome recorded after the failure made it `running` (claimable) again. Now, when the last event is
-- such an outcome, the flow is failed if the latest event that is not one of them is a StepFailed; a
-- RetryScheduled (the policy's or `chemflow retry`'s) or a shard's StepStarted after it leaves it running,
-- and a cancelled flow stays cancelled, as in the append path. The memory store applies the same rule
-- (rebuiltQueueStatus in src/core/queue-status.ts). The look back runs only for such flows, on the
-- (flow_id, version) index, newest first.
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

-- Repairs the rows an earlier `chemflow queue rebuild` revived: running, after a shard's outcome, though
-- a shard failed for good before it. Only open rows are read (the partial index over them).
SELECT chemflow_rebuild_flow_queue(q.flow_id)
FROM flow_queue q
WHERE q.status = 'running' AND q.last_event_type IN ('StepFinished', 'StepSignal')
  AND (
    SELECT o.event_type FROM event_log o
    WHERE o.flow_id = q.flow_id
      AND NOT (o.event_type = 'StepSignal' OR (o.event_type = 'StepFinished' AND o.payload ? 'shard'))
    ORDER BY o.version DESC LIMIT 1
  ) = 'StepFailed';
