-- The flow queue: one row per flow, a projection of its event log kept in the same transaction as
-- every append. Workers claim runnable rows with FOR UPDATE SKIP LOCKED and hold them with a lease
-- renewed by a heartbeat; an expired lease means the worker is gone. The log stays the system of
-- record: `chemflow queue rebuild` (chemflow_rebuild_flow_queue) recomputes every row from it.

-- A new event: an operator cancelled the flow (docs/cli.md, `chemflow cancel`).
ALTER TABLE event_log DROP CONSTRAINT IF EXISTS event_log_event_type_check;
ALTER TABLE event_log ADD CONSTRAINT event_log_event_type_check CHECK (event_type IN (
  'FlowInitialized', 'StepStarted', 'StepSignal', 'StepFinished',
  'StepFailed', 'RetryScheduled', 'FlowCompleted', 'FlowCancelled'
));

CREATE TABLE flow_queue (
  flow_id UUID PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'waiting', 'completed', 'failed', 'cancelled')),
  -- The log's head: the version of the flow's last event.
  version INTEGER NOT NULL CHECK (version > 0),
  last_event_type TEXT NOT NULL,
  -- When the flow may run next: the time it became runnable, or a retry's notBefore. NULL once it ended.
  next_due_at TIMESTAMPTZ,
  lease_owner TEXT,
  lease_expires_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
) WITH (fillfactor = 70); -- room on each page for HOT updates: a running flow's row changes at every step

-- Claims, idle polls and recoveries read only open flows: the partial index does not grow with history.
CREATE INDEX flow_queue_runnable ON flow_queue (next_due_at) WHERE status IN ('pending', 'running', 'waiting');
-- Listings, newest first, by status or name.
CREATE INDEX flow_queue_recent ON flow_queue (created_at DESC, flow_id DESC);
CREATE INDEX flow_queue_status_recent ON flow_queue (status, created_at DESC, flow_id DESC);
CREATE INDEX flow_queue_name_recent ON flow_queue (name, created_at DESC, flow_id DESC);

-- The status a flow has after `event_type` is its last event. One rule, shared by the append
-- statement and the rebuild; the memory store mirrors it in src/core/queue-status.ts. STABLE, as the
-- text-to-timestamptz cast in it is: so declared, the planner inlines it into the append statement
-- instead of calling it through the SQL-function executor at every step.
CREATE FUNCTION chemflow_queue_status(event_type TEXT, payload JSONB, ts TIMESTAMPTZ, was_cancelled BOOLEAN)
RETURNS TEXT LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN was_cancelled OR event_type = 'FlowCancelled' THEN 'cancelled'
    WHEN event_type IN ('FlowInitialized', 'StepFinished') THEN 'pending'
    WHEN event_type IN ('StepStarted', 'StepSignal') THEN 'running'
    WHEN event_type = 'StepFailed' THEN 'failed'
    WHEN event_type = 'RetryScheduled' AND (payload->>'notBefore')::timestamptz > ts THEN 'waiting'
    WHEN event_type = 'RetryScheduled' THEN 'pending'
    WHEN event_type = 'FlowCompleted' THEN 'completed'
  END
$$;

-- When a flow with `status` may run next; `since` is when its last event was written.
CREATE FUNCTION chemflow_queue_due(status TEXT, payload JSONB, since TIMESTAMPTZ)
RETURNS TIMESTAMPTZ LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN status = 'waiting' THEN (payload->>'notBefore')::timestamptz
    WHEN status IN ('pending', 'running') THEN since
  END
$$;

-- Recomputes the rows of every flow (or one) from the log. Leases are kept: a live worker keeps its flow.
CREATE FUNCTION chemflow_rebuild_flow_queue(only_flow UUID DEFAULT NULL) RETURNS INTEGER
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

-- Wakes idle workers (LISTEN chemflow_queue_<schema>) when a flow may have become claimable: created,
-- put back by a retry, or released by a worker. Delivered at commit, so a woken worker sees the row.
CREATE FUNCTION chemflow_notify_flow_queue() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.lease_owner IS NULL AND NEW.status IN ('pending', 'waiting', 'running') THEN
    PERFORM pg_notify('chemflow_queue_' || current_schema(), NEW.flow_id::text);
  END IF;
  RETURN NULL;
END;
$$;

-- The WHEN clause keeps the trigger function (and NOTIFY, which serialises commits) out of appends that
-- change nothing a claimer cares about: a leased flow's steps, an unleased flow staying as claimable as it was.
CREATE TRIGGER flow_queue_notify_insert
  AFTER INSERT ON flow_queue
  FOR EACH ROW EXECUTE FUNCTION chemflow_notify_flow_queue();
CREATE TRIGGER flow_queue_notify_update
  AFTER UPDATE OF status, lease_owner, next_due_at ON flow_queue
  FOR EACH ROW WHEN (NEW.lease_owner IS NULL AND NEW.status IN ('pending', 'waiting', 'running')
    AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.lease_owner IS NOT NULL OR OLD.next_due_at IS DISTINCT FROM NEW.next_due_at))
  EXECUTE FUNCTION chemflow_notify_flow_queue();

-- Backfill: a database written before the queue keeps every flow, and its open flows run again.
SELECT chemflow_rebuild_flow_queue();
