import { verifyArtifact, type Artifact } from '../../core/artifact.js';
import { ArtifactNotFoundError } from '../../core/errors.js';
import { getArtifactsQuery } from './artifact-queries.js';
import { run, type SqlExecutor } from './executor.js';
import { artifactFromRow, producerFromRow, type ArtifactRow } from './rows.js';
import { withRetry } from './transient.js';

/** Reads `workflow_step_artifacts`; writes happen inside `PgEventStore.append`. */
export class PgArtifactStore {
  constructor(private readonly executor: SqlExecutor) {}

  /**
   * Artifacts in the order asked; `ArtifactNotFoundError` names the first missing hash and
   * `ArtifactIntegrityError` a corrupt one, with the step that produced it.
   */
  async getArtifacts(hashes: readonly string[]): Promise<Artifact[]> {
    if (hashes.length === 0) return [];
    const rows = await withRetry('read artifacts', () => run<ArtifactRow>(this.executor, getArtifactsQuery(hashes)));
    // Every row is checked against its hash: a payload changed in the database is never handed on.
    const byHash = new Map(rows.map((row) => [row.hash, verifyArtifact(artifactFromRow(row), producerFromRow(row))]));
    return hashes.map((hash) => {
      const artifact = byHash.get(hash);
      if (artifact === undefined) throw new ArtifactNotFoundError(hash);
      return structuredClone(artifact);
    });
  }
}
