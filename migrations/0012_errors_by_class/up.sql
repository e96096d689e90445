-- The failed attempts of one error class, newest first, with their flows: the errors page filtered by
-- class reads its page from here, and the flows page's "has errors of class X" finds the flows of a
-- rare class (or of none) without reading every error row or every flow.
CREATE INDEX step_execution_errors_class ON step_execution_errors (error_class, id) INCLUDE (flow_id);
