// Changes a stored artifact behind chemflow's back, as an operator with too many privileges (or a
// memory bug) could: for tests that show a changed payload is caught when it is read.
import { Buffer } from 'node:buffer';
import { writeFile } from 'node:fs/promises';
import type { Artifact } from '../../src/core/artifact.js';
import type { JsonValue } from '../../src/core/canonical-json.js';
import { FsBlobStore } from '../../src/stores/blobs/fs-blob-store.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';

export async function tamperArtifact(store: FlowStore, hash: string, payload: JsonValue): Promise<void> {
  if (store instanceof MemoryFlowStore) {
    const artifacts = (store as unknown as { artifacts: Map<string, Artifact> }).artifacts;
    const stored = artifacts.get(hash);
    if (stored === undefined) throw new Error(`no artifact ${hash} to tamper with`);
    artifacts.set(hash, { ...stored, payload });
    return;
  }
  if (!(store instanceof SqlFlowStore)) throw new Error(`cannot tamper with a ${store.kind} store`);
  // The table is append-only (migration 0005): only its owner can switch the trigger off, as here.
  await store.executor.transaction(async (tx) => {
    await tx.exec('ALTER TABLE workflow_step_artifacts DISABLE TRIGGER workflow_step_artifacts_append_only');
    await tx.query('UPDATE workflow_step_artifacts SET payload = $1::text::jsonb WHERE hash = $2', [
      JSON.stringify(payload),
      hash,
    ]);
    await tx.exec('ALTER TABLE workflow_step_artifacts ENABLE TRIGGER workflow_step_artifacts_append_only');
  });
}

/**
 * Replaces the stored bytes of a blob behind chemflow's back: in memory, the file of a blob directory,
 * or the row of `artifact_chunks` (append-only, migration 0010: only its owner can switch the trigger
 * off, as here, in the test's own schema).
 */
export async function tamperBlob(store: FlowStore, hash: string, bytes: Uint8Array): Promise<void> {
  const { blobs } = store;
  if (blobs instanceof MemoryBlobStore) return blobs.tamper(hash, bytes);
  if (blobs.directory !== null) return writeFile(new FsBlobStore(blobs.directory).pathOf(hash), bytes);
  if (!(store instanceof SqlFlowStore)) throw new Error(`cannot tamper with the blobs of a ${store.kind} store`);
  await store.executor.transaction(async (tx) => {
    await tx.exec('ALTER TABLE artifact_chunks DISABLE TRIGGER artifact_chunks_append_only');
    const updated = await tx.query('UPDATE artifact_chunks SET bytes = $1 WHERE hash = $2 RETURNING hash', [Buffer.from(bytes), hash]);
    if (updated.length !== 1) throw new Error(`no chunk ${hash} to tamper with`);
    await tx.exec('ALTER TABLE artifact_chunks ENABLE TRIGGER artifact_chunks_append_only');
  });
}
