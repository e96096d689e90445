-- The older shape holds whole artifacts only: reverting with batch or file artifacts stored would lose
-- them (their rows have no payload), so it is refused and nothing changes.
DO $$
DECLARE
  kept BIGINT;
BEGIN
  SELECT count(*) INTO kept FROM workflow_step_artifacts WHERE form <> 'whole';
  IF kept > 0 THEN
    RAISE EXCEPTION 'cannot revert migration 0010_batch_artifacts: % batch or file artifact(s) are stored, which the older schema cannot hold', kept
      USING ERRCODE = 'restrict_violation';
  END IF;
END;
$$;
DROP TABLE IF EXISTS artifact_chunks;
DROP FUNCTION IF EXISTS chemflow_guard_chunk_delete();
DROP INDEX IF EXISTS workflow_step_artifacts_chunks;
ALTER TABLE workflow_step_artifacts DROP CONSTRAINT IF EXISTS workflow_step_artifacts_form_shape;
ALTER TABLE workflow_step_artifacts DROP COLUMN IF EXISTS manifest;
ALTER TABLE workflow_step_artifacts DROP COLUMN IF EXISTS form;
ALTER TABLE workflow_step_artifacts ALTER COLUMN payload SET NOT NULL;
