-- F8: the audit record of every failed step attempt, written in the same transaction as its
-- StepFailed event. Columns, defaults and index are exactly the seed's.
CREATE TABLE step_execution_errors (
  id SERIAL PRIMARY KEY,
  flow_id UUID NOT NULL,
  step_id TEXT NOT NULL,
  attempt_number INTEGER NOT NULL,
  error_class TEXT NOT NULL CHECK (error_class IN ('Transient', 'Permanent', 'Validation', 'Runtime')),
  error_message TEXT,
  details JSONB,
  timestamp TIMESTAMPTZ DEFAULT NOW(),
  retry_count INTEGER DEFAULT 0,
  max_retries INTEGER DEFAULT 3
);

-- Serves listErrors(flowId, stepId) and the timeline ordered by attempt.
CREATE INDEX idx_step_execution_errors_flow_step_attempt
  ON step_execution_errors (flow_id, step_id, attempt_number);

-- Append-only, like the event log it projects.
CREATE TRIGGER step_execution_errors_append_only
  BEFORE UPDATE OR DELETE ON step_execution_errors
  FOR EACH ROW EXECUTE FUNCTION chemflow_reject_mutation();

CREATE TRIGGER step_execution_errors_no_truncate
  BEFORE TRUNCATE ON step_execution_errors
  FOR EACH STATEMENT EXECUTE FUNCTION chemflow_reject_mutation();
