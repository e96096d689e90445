import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/**
 * SHA-256 of a UTF-8 string, lowercase hex: the one hash function of chemflow. The one-shot
 * `crypto.hash` builds no Hash object: every step's fingerprint pays for one.
 */
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/** Hash of the canonical JSON form of a value. */
export function hashCanonical(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
