import type { Mol } from '@rdkit/rdkit';
import { PermanentError } from '../core/error-class.js';

/** The part of `mol.get_descriptors()` the chemistry steps use (RDKit's names). */
const RDKIT_DESCRIPTORS = [
  'amw',
  'exactmw',
  'CrippenClogP',
  'lipinskiHBD',
  'lipinskiHBA',
  'tpsa',
  'NumRotatableBonds',
  'NumHeavyAtoms',
  'NumAromaticRings',
  'FractionCSP3',
] as const;
export type RDKitDescriptors = Record<(typeof RDKIT_DESCRIPTORS)[number], number>;

/**
 * RDKit's descriptors of a molecule. A missing field means an RDKit release renamed it: that will not
 * heal by retrying, hence `Permanent`. Checked by hand, not by a schema: it runs once per molecule.
 */
export function descriptorsOf(mol: Mol): RDKitDescriptors {
  const all = JSON.parse(mol.get_descriptors()) as Record<string, unknown>;
  const lacking = RDKIT_DESCRIPTORS.filter((name) => typeof all[name] !== 'number');
  if (lacking.length > 0) throw new PermanentError(`RDKit's descriptors lack ${lacking.join(', ')}`, { code: 'RDKIT_DESCRIPTORS_CHANGED' });
  return all as RDKitDescriptors;
}

/**
 * Rounds for storage in an artifact: descriptors carry floating-point noise in their last digits
 * (180.15899999999996), and rounding to what the method can claim keeps payloads readable and their
 * hashes stable. Integer counts come back as exact integers.
 */
export function roundTo(value: number, decimals: number): number {
  if (!Number.isFinite(value)) throw new PermanentError(`RDKit returned a non-finite value (${value})`, { code: 'NON_FINITE' });
  const rounded = Number(value.toFixed(decimals));
  return Object.is(rounded, -0) ? 0 : rounded;
}
