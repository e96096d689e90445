import { verifyArtifact, type StoredArtifact } from '../../core/artifact.js';
import { ArtifactNotFoundError } from '../../core/errors.js';
import { getArtifactsQuery, referencedBlobsQuery } from './artifact-queries.js';
import { run, type SqlExecutor } from './executor.js';
import { artifactFromRow, producerFromRow, storedArtifactFromRow, type ArtifactRow } from './rows.js';
import { withRetry } from './transient.js';

/** Reads `workflow_step_artifacts`; writes happen inside `PgEventStore.append`. */
export class PgArtifactStore {
  constructor(private readonly executor: SqlExecutor) {}

  /**
   * Artifacts in the order asked; `ArtifactNotFoundError` names the first missing hash and
   * `ArtifactIntegrityError` a corrupt one, with the step that produced it. A batch or file comes as its
   * manifest: its bytes are verified as they are read from the blob store.
   */
  async getArtifacts(hashes: readonly string[]): Promise<StoredArtifact[]> {
    if (hashes.length === 0) return [];
    const rows = await withRetry('read artifacts', () => run<ArtifactRow>(this.executor, getArtifactsQuery(hashes)));
    // Every row is checked against its hash: a payload changed in the database is never handed on.
    const byHash = new Map(rows.map((row) => [row.hash, fromRow(row)]));
    return hashes.map((hash) => {
      const artifact = byHash.get(hash);
      if (artifact === undefined) throw new ArtifactNotFoundError(hash);
      return structuredClone(artifact);
    });
  }

  /** Every blob hash a stored batch or file names. */
  async referencedBlobs(): Promise<Set<string>> {
    const rows = await withRetry('list the blobs artifacts name', () => run<{ hash: string }>(this.executor, referencedBlobsQuery()));
    return new Set(rows.map((row) => row.hash));
  }
}

function fromRow(row: ArtifactRow): StoredArtifact {
  return row.form === 'whole' ? verifyArtifact(artifactFromRow(row), producerFromRow(row)) : storedArtifactFromRow(row);
}
