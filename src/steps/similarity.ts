import { z } from 'zod';
import type { StepModule } from '../core/definition.js';
import { ValidationError } from '../core/error-class.js';
import { CHEM_KINDS, ROWS, type Molecule, type SimilarityRow } from './chem-artifacts.js';
import { morganBits, tanimoto } from './fingerprints.js';
import { paramsParser } from './params.js';
import { roundTo } from './rdkit-descriptors.js';
import { withMolecule } from './rdkit.js';
import { forward, rowsInputOf } from './step-io.js';
import { namedStructures } from './structure-params.js';

const parseParams = paramsParser({
  /** The reference molecules, each with a distinct name; ties for the nearest go to the first listed. */
  references: z
    .array(z.strictObject({ name: z.string().min(1), smiles: z.string().min(1) }))
    .min(1)
    .superRefine(namedStructures('smiles')),
  /** Morgan radius: 2 is ECFP4-like. */
  radius: z.int().min(0).max(6).default(2),
  /** Length of the folded fingerprint, in bits. */
  nBits: z.int().min(64).max(16384).default(2048),
  /** Decimals kept for every similarity. */
  decimals: z.int().min(0).max(6).default(3),
});
export type SimilarityParams = ReturnType<typeof parseParams>;

interface Reference {
  name: string;
  bits: Uint8Array;
}

/**
 * `chem/similarity` (transform): for every molecule of `chem/molecules`, the Tanimoto similarity of its
 * Morgan fingerprint (RDKit MinimalLib, `radius` and `nBits`) to the fingerprint of each reference
 * molecule, the highest of them and the reference it belongs to, as a `chem/similarity` table keyed by
 * InChIKey. Other input artifacts are passed on. It streams, and each row depends on its molecule
 * alone, so it may be mapped over molecules.
 */
export const similarity: StepModule<SimilarityParams> = {
  kind: 'transform',
  version: '1',
  parseParams,
  streaming: true,
  async run(ctx) {
    const molecules = rowsInputOf(ctx.input, CHEM_KINDS.molecules, ROWS.molecules);
    const { radius, nBits, decimals } = ctx.params;
    const references = await referenceFingerprints(ctx.params);
    const table = ctx.batch(CHEM_KINDS.similarity, {
      rowsField: 'rows',
      header: { radius, nBits, decimals, references: Object.fromEntries(ctx.params.references.map((r) => [r.name, r.smiles])) },
    });
    for await (const chunk of molecules.chunks()) {
      const rows: SimilarityRow[] = [];
      for (const molecule of chunk) {
        ctx.signal.throwIfAborted();
        rows.push(similarityRow(molecule, await fingerprintOf(molecule, radius, nBits), references, decimals));
      }
      await table.pushAll(rows);
    }
    return { outputs: forward(ctx.input, [await table.close()]) };
  },
};

async function referenceFingerprints({ references, radius, nBits }: SimilarityParams): Promise<Reference[]> {
  const fingerprints: Reference[] = [];
  for (const [index, { name, smiles }] of references.entries()) {
    const computed = await withMolecule(smiles, (mol) => morganBits(mol, radius, nBits));
    if (!computed.ok)
      throw new ValidationError(`reference ${JSON.stringify(name)} has a SMILES RDKit cannot read: ${computed.reason}`, {
        code: 'INVALID_REFERENCE',
        details: { index, name, smiles },
      });
    fingerprints.push({ name, bits: computed.value });
  }
  return fingerprints;
}

async function fingerprintOf(molecule: Molecule, radius: number, nBits: number): Promise<Uint8Array> {
  const computed = await withMolecule(molecule.smiles, (mol) => morganBits(mol, radius, nBits));
  if (!computed.ok)
    throw new ValidationError(`molecule ${molecule.inchikey} (${molecule.name}) has a SMILES RDKit cannot read: ${computed.reason}`, {
      code: 'INVALID_MOLECULE',
      details: { inchikey: molecule.inchikey, smiles: molecule.smiles },
    });
  return computed.value;
}

/** The nearest reference is chosen on the rounded values, so that it always agrees with the row's numbers. */
function similarityRow(molecule: Molecule, bits: Uint8Array, references: readonly Reference[], decimals: number): SimilarityRow {
  const similarity: Record<string, number> = {};
  let maxSimilarity = -1;
  let nearest = '';
  for (const reference of references) {
    const value = roundTo(tanimoto(bits, reference.bits), decimals);
    similarity[reference.name] = value;
    if (value > maxSimilarity) {
      maxSimilarity = value;
      nearest = reference.name;
    }
  }
  return { inchikey: molecule.inchikey, maxSimilarity, nearest, similarity };
}
