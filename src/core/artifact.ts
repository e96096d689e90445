import { Buffer } from 'node:buffer';
import { canonicalJson, type JsonValue } from './canonical-json.js';
import { ArtifactIntegrityError, NonCanonicalValueError, type ArtifactProducer } from './errors.js';
import { hashCanonical, sha256Hex } from './hash.js';
import type { BatchManifest } from './batch.js';

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
  return withHash(draft, hashCanonical(draft.payload));
}

/**
 * `createArtifact`, and the size of what a store keeps of it: the UTF-8 bytes of its canonical payload
 * and metadata. Measured on the text the payload is hashed from, so a large payload is serialised once.
 */
export function measureArtifact<P extends JsonValue>(draft: ArtifactDraft<P>): { artifact: Artifact<P>; bytes: number } {
  const text = canonicalJson(draft.payload);
  return { artifact: withHash(draft, sha256Hex(text)), bytes: utf8Bytes(text) + metadataBytes(draft) };
}

/** The canonical size of an artifact already made (see `measureArtifact`). */
export function artifactBytes(artifact: ArtifactDraft): number {
  return utf8Bytes(canonicalJson(artifact.payload)) + metadataBytes(artifact);
}

function metadataBytes(draft: ArtifactDraft): number {
  return draft.metadata === undefined ? 0 : utf8Bytes(canonicalJson(draft.metadata));
}

/** Counted, not encoded: no second copy of a large text. */
function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function withHash<P extends JsonValue>(draft: ArtifactDraft<P>, hash: string): Artifact<P> {
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

/**
 * An artifact stored as a batch of rows in chunks (see `BatchManifest`): the same logical payload, and
 * so the same hash, as the artifact held whole. The database keeps the manifest; the chunks' bytes are
 * in the blob store.
 */
export interface BatchArtifact {
  readonly form: 'batch';
  readonly kind: string;
  readonly hash: string;
  readonly manifest: BatchManifest;
  readonly metadata?: Record<string, JsonValue>;
}

/**
 * A file a step wrote (an SDF, a CSV or Parquet table, a trajectory): `hash` is the SHA-256 of its bytes
 * (what `sha256sum` prints), which the blob store keeps; the database keeps the hash, size and kind.
 * `name` is the name the step gave it, for people and for the command that reads it; it is not hashed.
 */
export interface FileArtifact {
  readonly form: 'file';
  readonly kind: string;
  readonly hash: string;
  readonly size: number;
  readonly name: string;
  readonly metadata?: Record<string, JsonValue>;
}

/** An artifact as a store keeps it: whole (`Artifact`, no `form`), a batch, or a file. */
export type StoredArtifact = Artifact | BatchArtifact | FileArtifact;

export function isBatchArtifact(artifact: StoredArtifact): artifact is BatchArtifact {
  return 'form' in artifact && artifact.form === 'batch';
}

export function isFileArtifact(artifact: StoredArtifact): artifact is FileArtifact {
  return 'form' in artifact && artifact.form === 'file';
}

/** An artifact held whole, with its payload. */
export function isWholeArtifact(artifact: StoredArtifact): artifact is Artifact {
  return !('form' in artifact);
}
