DROP INDEX flow_queue_runnable;
CREATE INDEX flow_queue_runnable ON flow_queue (next_due_at) WHERE status IN ('pending', 'running', 'waiting');
