DROP INDEX IF EXISTS event_log_cached_finish;
DROP TABLE IF EXISTS step_cache;
