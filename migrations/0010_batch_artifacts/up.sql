-- Batch and file artifacts (docs/data.md). A batch is kept as a manifest (its shape and its chunks in
-- order, each chunk named by the SHA-256 of its bytes) and a file as its size and name; their bytes live
-- in a blob store, so no row ever holds a whole large batch (PostgreSQL refuses a jsonb value over 256
-- MiB). The hash stays the hash of the payload the artifact stands for, whatever its form: an artifact
-- written whole before this migration keeps its row and every fingerprint that names it.
ALTER TABLE workflow_step_artifacts ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE workflow_step_artifacts
  ADD COLUMN form TEXT NOT NULL DEFAULT 'whole' CONSTRAINT workflow_step_artifacts_form_check CHECK (form IN ('whole', 'batch', 'file'));
-- A batch: {rowsField, header, rowCount, chunks: [{hash, rows, bytes}]}; a file: {size, name}.
ALTER TABLE workflow_step_artifacts ADD COLUMN manifest JSONB;
-- A whole artifact has its payload and no manifest; a batch or file the other way round.
ALTER TABLE workflow_step_artifacts ADD CONSTRAINT workflow_step_artifacts_form_shape
  CHECK ((form = 'whole') = (payload IS NOT NULL) AND (form = 'whole') = (manifest IS NULL));

-- Which stored batches name a chunk: a probe of this index, not a scan of every manifest (the guard
-- below, and `chemflow gc`). Only batch rows are in it, so whole artifacts pay nothing for it.
CREATE INDEX workflow_step_artifacts_chunks ON workflow_step_artifacts
  USING gin ((manifest->'chunks') jsonb_path_ops) WHERE form = 'batch';

-- The bytes of batch chunks on a PostgreSQL server run without a blob directory (`--blob-dir`): rows
-- the database held inside the payload column before, now one per chunk, each stored once.
CREATE TABLE artifact_chunks (
  hash TEXT PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
  bytes BYTEA NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- A chunk's bytes never change (UPDATE and TRUNCATE are refused as on the other evidence tables). A
-- chunk can be deleted, since `chemflow gc` removes the chunks of writes that never became an artifact
-- (an attempt that failed or lost a race after writing its chunks), but only one no stored batch names:
-- the database itself refuses to delete the bytes of an artifact.
CREATE FUNCTION chemflow_guard_chunk_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM workflow_step_artifacts a
    WHERE a.form = 'batch' AND a.manifest->'chunks' @> jsonb_build_array(jsonb_build_object('hash', OLD.hash))
  ) THEN
    RAISE EXCEPTION 'chunk % of table % is named by a stored batch artifact: it cannot be deleted', OLD.hash, TG_TABLE_NAME
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN OLD;
END;
$$;

CREATE TRIGGER artifact_chunks_append_only
  BEFORE UPDATE ON artifact_chunks
  FOR EACH ROW EXECUTE FUNCTION chemflow_reject_mutation();

CREATE TRIGGER artifact_chunks_no_truncate
  BEFORE TRUNCATE ON artifact_chunks
  FOR EACH STATEMENT EXECUTE FUNCTION chemflow_reject_mutation();

CREATE TRIGGER artifact_chunks_delete_unreferenced
  BEFORE DELETE ON artifact_chunks
  FOR EACH ROW EXECUTE FUNCTION chemflow_guard_chunk_delete();
