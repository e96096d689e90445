DROP INDEX IF EXISTS idx_step_execution_errors_flow_step_attempt;
DROP TABLE IF EXISTS step_execution_errors;
