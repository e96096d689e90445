import { isBatchArtifact, isFileArtifact, type StoredArtifact } from '../core/artifact.js';
import { canonicalJson } from '../core/canonical-json.js';
import type { FlowEvent } from '../core/events.js';
import type { CacheEntry, CacheEntryInput, CachePruneOptions, CacheStats } from './step-cache-index.js';
import { cacheSourceIn } from './step-cache-index.js';
import { StoreError } from '../core/errors.js';

/** The memory store's step cache index: the `step_cache` table of migration 0006, in a Map. */
export class MemoryStepCache {
  private readonly entries = new Map<string, CacheEntry>();

  /**
   * Records the entry of an appended batch (checked by `cacheEntryProblem` first); a newer source of
   * the same key replaces the older one.
   */
  record(flowId: string, stored: readonly FlowEvent[], entry: CacheEntryInput): void {
    const source = cacheSourceIn(stored, entry);
    if (source === undefined) throw new StoreError(`append to flow ${flowId}`, 'cache entry without its StepFinished', { failure: 'refused' });
    this.entries.set(entry.key, {
      key: entry.key,
      flowId,
      stepId: source.stepId,
      stepType: entry.stepType,
      outputs: [...source.outputs],
      createdAt: new Date().toISOString(),
    });
  }

  lookup(key: string): CacheEntry | null {
    const entry = this.entries.get(key);
    return entry === undefined ? null : structuredClone(entry);
  }

  /**
   * `artifact(hash)`: the stored artifact, to size it: the canonical JSON of a whole one's payload in
   * UTF-8 bytes, the bytes of a batch's chunks, the size of a file.
   */
  stats(logs: Iterable<readonly FlowEvent[]>, artifact: (hash: string) => StoredArtifact | undefined): CacheStats {
    let hits = 0;
    for (const log of logs) for (const e of log) if (e.type === 'StepFinished' && (e.cachedFrom ?? null) !== null) hits += 1;
    const hashes = new Set([...this.entries.values()].flatMap((e) => e.outputs));
    let artifactBytes = 0;
    for (const hash of hashes) {
      const stored = artifact(hash);
      if (stored !== undefined) artifactBytes += storedBytes(stored);
    }
    return { hits, entries: this.entries.size, artifactBytes };
  }

  prune(options: CachePruneOptions): number {
    let deleted = 0;
    for (const [key, entry] of this.entries) {
      if (options.olderThan !== undefined && !(Date.parse(entry.createdAt) < options.olderThan.getTime())) continue;
      if (options.stepType !== undefined && entry.stepType !== options.stepType) continue;
      this.entries.delete(key);
      deleted += 1;
    }
    return deleted;
  }
}

function storedBytes(artifact: StoredArtifact): number {
  if (isBatchArtifact(artifact)) return artifact.manifest.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0);
  if (isFileArtifact(artifact)) return artifact.size;
  return Buffer.byteLength(canonicalJson(artifact.payload), 'utf8');
}
