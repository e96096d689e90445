import { z } from 'zod';
import type { StepModule } from '../core/definition.js';
import { ValidationError } from '../core/error-class.js';
import { CHEM_KINDS, moleculeSetSchema, type DescriptorRow, type DescriptorTable } from './chem-artifacts.js';
import { paramsParser } from './params.js';
import { descriptorsOf, roundTo } from './rdkit-descriptors.js';
import { forward, inputOf } from './step-io.js';
import { withMolecule } from './rdkit.js';

const parseParams = paramsParser({
  /** Decimals kept for MW, cLogP and TPSA. */
  decimals: z.int().min(0).max(6).default(2),
});
export type DescriptorsParams = ReturnType<typeof parseParams>;

/**
 * `chem/descriptors` (transform): for every molecule of `chem/molecules`, RDKit's average molecular
 * weight, Crippen cLogP, Lipinski H-bond donors and acceptors, TPSA and rotatable bonds, as a
 * `chem/descriptors` table keyed by InChIKey. Other input artifacts are passed on.
 */
export const descriptors: StepModule<DescriptorsParams> = {
  kind: 'transform',
  version: '2',
  parseParams,
  async run(ctx) {
    const set = inputOf(ctx.input, CHEM_KINDS.molecules, moleculeSetSchema);
    const { decimals } = ctx.params;
    const rows: DescriptorRow[] = [];
    for (const molecule of set.molecules) {
      ctx.signal.throwIfAborted();
      const computed = await withMolecule(molecule.smiles, (mol) => descriptorsOf(mol));
      if (!computed.ok)
        throw new ValidationError(`molecule ${molecule.inchikey} (${molecule.name}) has a SMILES RDKit cannot read: ${computed.reason}`, {
          code: 'INVALID_MOLECULE',
          details: { inchikey: molecule.inchikey, smiles: molecule.smiles },
        });
      const d = computed.value;
      rows.push({
        inchikey: molecule.inchikey,
        mw: roundTo(d.amw, decimals),
        clogp: roundTo(d.CrippenClogP, decimals),
        hbd: roundTo(d.lipinskiHBD, 0),
        hba: roundTo(d.lipinskiHBA, 0),
        tpsa: roundTo(d.tpsa, decimals),
        rotatableBonds: roundTo(d.NumRotatableBonds, 0),
      });
    }
    const table: DescriptorTable = { decimals, rows };
    return { outputs: forward(ctx.input, [{ kind: CHEM_KINDS.descriptors, payload: table }]) };
  },
};
