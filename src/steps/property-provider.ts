import type { Mol } from '@rdkit/rdkit';
import { z } from 'zod';
import type { StepModule } from '../core/definition.js';
import { TransientError, ValidationError } from '../core/error-class.js';
import { CHEM_KINDS, ROWS, type ProvidedRow } from './chem-artifacts.js';
import { paramsParser } from './params.js';
import { descriptorsOf, roundTo } from './rdkit-descriptors.js';
import { withMolecule } from './rdkit.js';
import { forward, rowsInputOf } from './step-io.js';

const parseParams = paramsParser({
  /**
   * How many first attempts the provider answers "service unavailable" (a `Transient` failure): a
   * deterministic stand-in for a flaky remote service, to show retries. 0 = always available.
   */
  unavailableAttempts: z.int().min(0).max(100).default(0),
});
export type PropertyProviderParams = ReturnType<typeof parseParams>;

const PROVIDER = 'rdkit-offline';

/**
 * `chem/property-provider` (transform): looks up properties of every molecule of `chem/molecules` by
 * InChIKey — molecular formula, monoisotopic mass, heavy atoms, aromatic rings, fraction of sp3
 * carbons — as a real pipeline would ask a remote service such as PubChem. This one answers offline
 * from RDKit, so the example needs no network, and fails on purpose on its first
 * `unavailableAttempts` attempts. Its output never depends on the attempt: a retried step must give
 * what a first attempt would have given, or fingerprints would not be reproducible.
 */
export const propertyProvider: StepModule<PropertyProviderParams> = {
  kind: 'transform',
  version: '2',
  parseParams,
  streaming: true,
  async run(ctx) {
    const molecules = rowsInputOf(ctx.input, CHEM_KINDS.molecules, ROWS.molecules);
    if (ctx.attempt <= ctx.params.unavailableAttempts)
      throw new TransientError(
        `property provider unavailable (simulated HTTP 503: unavailableAttempts is ${ctx.params.unavailableAttempts}, this is attempt ${ctx.attempt})`,
        { code: 'PROVIDER_UNAVAILABLE', details: { provider: PROVIDER, status: 503 } },
      );
    const provided = ctx.batch(CHEM_KINDS.providedProperties, { rowsField: 'rows', header: { provider: PROVIDER } });
    for await (const chunk of molecules.chunks()) {
      const rows: ProvidedRow[] = [];
      for (const molecule of chunk) {
        ctx.signal.throwIfAborted();
        const looked = await withMolecule(molecule.smiles, (mol) => lookUp(molecule.inchikey, mol));
        if (!looked.ok)
          throw new ValidationError(`molecule ${molecule.inchikey} (${molecule.name}) has a SMILES RDKit cannot read: ${looked.reason}`, {
            code: 'INVALID_MOLECULE',
            details: { inchikey: molecule.inchikey, smiles: molecule.smiles },
          });
        rows.push(looked.value);
      }
      await provided.pushAll(rows);
    }
    return { outputs: forward(ctx.input, [await provided.close()]) };
  },
};

function lookUp(inchikey: string, mol: Mol): ProvidedRow {
  const d = descriptorsOf(mol);
  return {
    inchikey,
    formula: formulaOf(mol),
    exactMass: roundTo(d.exactmw, 4),
    heavyAtoms: roundTo(d.NumHeavyAtoms, 0),
    aromaticRings: roundTo(d.NumAromaticRings, 0),
    fractionCsp3: roundTo(d.FractionCSP3, 3),
  };
}

/** The Hill formula, from the InChI's formula layer: "InChI=1S/C9H8O4/c1-6..." → "C9H8O4". */
function formulaOf(mol: Mol): string {
  return mol.get_inchi().split('/')[1] ?? '';
}
