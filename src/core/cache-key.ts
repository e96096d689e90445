import type { JsonObject, JsonValue } from './canonical-json.js';
import { ENGINE_VERSION } from './fingerprint.js';
import { hashCanonical } from './hash.js';

/**
 * Everything that enters a step's cache key (docs/cache.md). It is the step fingerprint's input less
 * what names this flow's slot: no step id, no flow id, no definition hash, so two flows (or two steps
 * of one flow) doing the same work with the same code share one entry.
 */
export interface CacheKeyInput {
  /** Defaults to `ENGINE_VERSION`: a new engine may compute results differently. */
  engineVersion?: string;
  /** The step type: a flow file's `uses` (`chem/read-smiles`, `./steps.mjs#score`). */
  stepType: string;
  /** The step module's `version`; null when it declares none. */
  stepVersion: string | null;
  /**
   * The input artifact hashes in the order the step receives them. Unlike the fingerprint they are not
   * sorted: a step may depend on the order of its inputs, and a miss is cheaper than a wrong hit.
   */
  inputHashes: readonly string[];
  /** The step's params after `parseParams` (defaults filled in), canonicalised by the hash. */
  params: JsonObject;
  /**
   * What the step module adds (`cacheKey(params, ctx)`), e.g. the content hash of a file it reads, and
   * for a module-path step the hash of its code (its file and the project files it imports). Null when nothing is added.
   */
  extra: JsonValue;
}

/** Names the key's layout: changing what enters the key changes this, so old entries can never hit. */
export const CACHE_KEY_FORMAT = 'chemflow.step-cache/2';

/** The cache key: SHA-256 of the canonical JSON of the fields above and `CACHE_KEY_FORMAT`. */
export function stepCacheKey(input: CacheKeyInput): string {
  return hashCanonical({
    format: CACHE_KEY_FORMAT,
    engineVersion: input.engineVersion ?? ENGINE_VERSION,
    stepType: input.stepType,
    stepVersion: input.stepVersion,
    inputHashes: [...input.inputHashes],
    params: input.params,
    extra: input.extra,
  });
}
