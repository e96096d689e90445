import type { SqlQuery } from './executor.js';

/**
 * Artifacts by hash, with the flow and step of the `StepFinished` that first produced them (a primary
 * key lookup per artifact), so a corrupt one can be reported by where it came from.
 */
export function getArtifactsQuery(hashes: readonly string[]): SqlQuery {
  return {
    text: `SELECT a.hash, a.kind, a.form, a.payload, a.manifest, a.metadata,
        e.flow_id::text AS produced_by_flow, e.payload->>'stepId' AS produced_by_step
      FROM workflow_step_artifacts a LEFT JOIN event_log e ON e.seq = a.produced_in_seq
      WHERE a.hash IN (SELECT jsonb_array_elements_text($1::text::jsonb))`,
    values: [JSON.stringify(hashes)],
  };
}

/** Every blob a stored artifact names: the chunks of each batch and the bytes of each file (for `gc`). */
export function referencedBlobsQuery(): SqlQuery {
  return {
    text: `SELECT chunk->>'hash' AS hash
        FROM workflow_step_artifacts a CROSS JOIN LATERAL jsonb_array_elements(a.manifest->'chunks') AS chunk
        WHERE a.form = 'batch'
      UNION
      SELECT hash FROM workflow_step_artifacts WHERE form = 'file'`,
    values: [],
  };
}
