import type { JsonValue } from './canonical-json.js';
import { ArtifactIntegrityError, NonCanonicalValueError, type ArtifactProducer } from './errors.js';
import { hashCanonical } from './hash.js';

/**
 * An immutable, content-addressed step output. `hash` covers the canonical payload only: metadata
 * (labels, provenance notes) may differ without making two identical results look different.
 */
export interface Artifact<P extends JsonValue = JsonValue> {
  readonly kind: string;
  readonly hash: string;
  readonly payload: P;
  readonly metadata?: Record<string, JsonValue>;
}

/** What a step returns: an artifact before its hash is computed. */
export interface ArtifactDraft<P extends JsonValue = JsonValue> {
  readonly kind: string;
  readonly payload: P;
  readonly metadata?: Record<string, JsonValue>;
}

export function createArtifact<P extends JsonValue>(draft: ArtifactDraft<P>): Artifact<P> {
  const hash = hashCanonical(draft.payload);
  return draft.metadata === undefined
    ? { kind: draft.kind, hash, payload: draft.payload }
    : { kind: draft.kind, hash, payload: draft.payload, metadata: draft.metadata };
}

/**
 * Throws `ArtifactIntegrityError` when the payload was changed after hashing. Stores call it on every
 * read, naming the step that produced the artifact, so a tampered row is never handed to a step.
 */
export function verifyArtifact<A extends Artifact>(artifact: A, producedBy: ArtifactProducer | null = null): A {
  let actual: string | null;
  try {
    actual = hashCanonical(artifact.payload);
  } catch (error) {
    if (!(error instanceof NonCanonicalValueError)) throw error;
    actual = null;
  }
  if (actual !== artifact.hash) throw new ArtifactIntegrityError(artifact.hash, actual, producedBy);
  return artifact;
}
