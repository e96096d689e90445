-- The append-only event log: the system of record of every flow.
-- `seq` is the global order; `version` is the per-flow sequence 1, 2, 3 ... and the unique
-- constraint on (flow_id, version) is what makes two concurrent appenders unable to interleave.
CREATE TABLE event_log (
  seq BIGSERIAL PRIMARY KEY,
  flow_id UUID NOT NULL,
  version INTEGER NOT NULL CHECK (version > 0),
  ts TIMESTAMPTZ NOT NULL,
  event_type TEXT NOT NULL CHECK (event_type IN (
    'FlowInitialized', 'StepStarted', 'StepSignal', 'StepFinished',
    'StepFailed', 'RetryScheduled', 'FlowCompleted'
  )),
  schema_version INTEGER NOT NULL,
  payload JSONB NOT NULL,
  CONSTRAINT event_log_flow_version_unique UNIQUE (flow_id, version)
);

-- Append-only in the database itself, not only by convention of the application: history is evidence.
CREATE FUNCTION chemflow_reject_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER event_log_append_only
  BEFORE UPDATE OR DELETE ON event_log
  FOR EACH ROW EXECUTE FUNCTION chemflow_reject_mutation();

CREATE TRIGGER event_log_no_truncate
  BEFORE TRUNCATE ON event_log
  FOR EACH STATEMENT EXECUTE FUNCTION chemflow_reject_mutation();
