DROP INDEX IF EXISTS step_execution_errors_code;
