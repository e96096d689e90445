-- Restores 0004's body (the same results, not inlined into the append statement).
CREATE OR REPLACE FUNCTION chemflow_queue_due(status TEXT, payload JSONB, since TIMESTAMPTZ)
RETURNS TIMESTAMPTZ LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN status = 'waiting' THEN (payload->>'notBefore')::timestamptz
    WHEN status IN ('pending', 'running') THEN since
  END
$$;
