DROP TABLE IF EXISTS workflow_step_artifacts;
