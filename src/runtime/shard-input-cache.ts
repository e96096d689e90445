import type { StoredArtifact } from '../core/artifact.js';
import { inputHashesOf } from '../core/decide.js';
import type { ShardWork } from './shard-attempt.js';
import type { WorkItemLease } from './lease-keeper.js';

/**
 * The whole inputs of the mapped steps a worker helps with, kept across its shard visits: each visit
 * would otherwise read (and verify) the step's whole input again to cut out its slice — tens of
 * megabytes for a large screen, once per shard. Keyed by flow, step and input hashes; the few most
 * recent only.
 */
export class ShardInputCache {
  private readonly entries = new Map<string, Promise<readonly StoredArtifact[]>>();

  constructor(private readonly capacity = 4) {}

  /** The input loader for this shard's step, shared with the other shards of the step seen recently. */
  get(work: ShardWork, lease: WorkItemLease): () => Promise<readonly StoredArtifact[]> {
    const key = `${lease.flowId}/${lease.stepIndex}/${inputHashesOf(work.session.flow, lease.stepIndex).join(',')}`;
    return () => {
      let entry = this.entries.get(key);
      if (entry === undefined) {
        entry = work.input();
        entry.catch(() => this.entries.delete(key)); // a failed read is tried again by the next shard
        this.entries.set(key, entry);
        while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
      }
      return entry;
    };
  }
}
