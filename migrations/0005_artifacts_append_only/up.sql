-- Artifacts are evidence like the log that names them: a changed payload would be consumed by a
-- retried step while every fingerprint still matched. Append-only in the database itself, with the
-- same function as event_log (0001) and step_execution_errors (0003). Inserting an existing hash stays
-- allowed: `ON CONFLICT (hash) DO NOTHING` updates nothing, so no UPDATE trigger fires.
CREATE TRIGGER workflow_step_artifacts_append_only
  BEFORE UPDATE OR DELETE ON workflow_step_artifacts
  FOR EACH ROW EXECUTE FUNCTION chemflow_reject_mutation();

CREATE TRIGGER workflow_step_artifacts_no_truncate
  BEFORE TRUNCATE ON workflow_step_artifacts
  FOR EACH STATEMENT EXECUTE FUNCTION chemflow_reject_mutation();
