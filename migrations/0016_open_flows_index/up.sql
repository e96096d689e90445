-- The index of open flows names the statuses a flow ends in rather than those it is open in: the same
-- set (the status column's CHECK allows no other), but a predicate PostgreSQL can estimate without
-- statistics. Before a table's first ANALYZE the planner takes an `IN` list of three values as 1.5 %
-- of the rows and a `NOT IN` list as 98.5 %: with the former a claim expected two open flows and
-- sorted them all (every open flow, at every claim) instead of reading the index in due order and
-- stopping at the first free one. The claims' predicate (`isOpenStatus`, src/stores/sql/sql-fragments.ts)
-- is written the same way, so that it implies this one.
DROP INDEX flow_queue_runnable;
CREATE INDEX flow_queue_runnable ON flow_queue (next_due_at) WHERE status NOT IN ('completed', 'failed', 'cancelled');
