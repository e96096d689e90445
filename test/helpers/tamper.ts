// Changes a stored artifact behind chemflow's back, as an operator with too many privileges (or a
// memory bug) could: for tests that show a changed payload is caught when it is read.
import type { Artifact } from '../../src/core/artifact.js';
import type { JsonValue } from '../../src/core/canonical-json.js';
import { GroupCommitStore } from '../../src/runtime/group-commit-store.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';

export async function tamperArtifact(store: FlowStore, hash: string, payload: JsonValue): Promise<void> {
  if (store instanceof GroupCommitStore) return tamperArtifact(store.inner, hash, payload);
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
