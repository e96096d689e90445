DROP TABLE IF EXISTS event_log;
DROP FUNCTION IF EXISTS chemflow_reject_mutation();
