import type { Mol } from '@rdkit/rdkit';
import { z } from 'zod';
import { PermanentError } from '../core/error-class.js';

/** The part of `mol.get_descriptors()` the chemistry steps use (RDKit's names). */
const rdkitDescriptorsSchema = z.object({
  amw: z.number(),
  exactmw: z.number(),
  CrippenClogP: z.number(),
  lipinskiHBD: z.number(),
  lipinskiHBA: z.number(),
  tpsa: z.number(),
  NumRotatableBonds: z.number(),
  NumHeavyAtoms: z.number(),
  NumAromaticRings: z.number(),
  FractionCSP3: z.number(),
});
export type RDKitDescriptors = z.infer<typeof rdkitDescriptorsSchema>;

/**
 * RDKit's descriptors of a molecule. A missing field means an RDKit release renamed it: that will not
 * heal by retrying, hence `Permanent`.
 */
export function descriptorsOf(mol: Mol): RDKitDescriptors {
  const parsed = rdkitDescriptorsSchema.safeParse(JSON.parse(mol.get_descriptors()));
  if (!parsed.success)
    throw new PermanentError(`RDKit's descriptors lack ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`, {
      code: 'RDKIT_DESCRIPTORS_CHANGED',
    });
  return parsed.data;
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
