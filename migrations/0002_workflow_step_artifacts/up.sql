-- Content-addressed artifacts: the hash covers the canonical payload, so a second insert of the same
-- hash is the same artifact and is skipped with ON CONFLICT DO NOTHING.
CREATE TABLE workflow_step_artifacts (
  hash TEXT PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
  kind TEXT NOT NULL,
  payload JSONB NOT NULL,
  metadata JSONB,
  -- The StepFinished that first produced it (NULL only for artifacts stored outside such a batch).
  produced_in_seq BIGINT REFERENCES event_log (seq),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
