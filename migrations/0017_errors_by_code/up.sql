-- The failed attempts with one error code, newest first: the errors page and `GET /api/errors?code=X`
-- read their page from here, instead of walking every error row from the newest until they have found
-- enough of a rare code.
CREATE INDEX step_execution_errors_code ON step_execution_errors ((details->>'error_code'), id);
