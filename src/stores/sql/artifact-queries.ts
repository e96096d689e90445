import type { SqlQuery } from './executor.js';

export function getArtifactsQuery(hashes: readonly string[]): SqlQuery {
  return {
    text: `SELECT hash, kind, payload, metadata FROM workflow_step_artifacts
      WHERE hash IN (SELECT jsonb_array_elements_text($1::text::jsonb))`,
    values: [JSON.stringify(hashes)],
  };
}
