import type { JsonObject } from './canonical-json.js';
import { hashCanonical } from './hash.js';

/** Enters every step fingerprint: a new engine version may compute results differently. */
export const ENGINE_VERSION = 'chemflow-1';

export interface FingerprintInput {
  engineVersion?: string;
  stepId: string;
  inputHashes: readonly string[];
  params: JsonObject;
  definitionHash: string;
}

/** Identity of a step's computation: same inputs, params, step and definition give the same value. */
export function stepFingerprint(input: FingerprintInput): string {
  return hashCanonical({
    engineVersion: input.engineVersion ?? ENGINE_VERSION,
    stepId: input.stepId,
    inputHashes: [...input.inputHashes].sort(),
    params: input.params,
    definitionHash: input.definitionHash,
  });
}

/** Identity of a whole run: the ordered fingerprints of its finished steps. */
export function flowFingerprint(stepFingerprints: readonly string[]): string {
  return hashCanonical(stepFingerprints);
}
