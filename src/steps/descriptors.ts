import { z } from 'zod';
import type { StepModule } from '../core/definition.js';
import { ValidationError } from '../core/error-class.js';
import { CHEM_KINDS, ROWS, type DescriptorRow } from './chem-artifacts.js';
import { paramsParser } from './params.js';
import { descriptorsOf, roundTo } from './rdkit-descriptors.js';
import { forward, rowsInputOf } from './step-io.js';
import { withMolecule } from './rdkit.js';

const parseParams = paramsParser({
  /** Decimals kept for MW, cLogP and TPSA. */
  decimals: z.int().min(0).max(6).default(2),
});
export type DescriptorsParams = ReturnType<typeof parseParams>;

/**
 * `chem/descriptors` (transform): for every molecule of `chem/molecules`, RDKit's average molecular
 * weight, Crippen cLogP, Lipinski H-bond donors and acceptors, TPSA and rotatable bonds, as a
 * `chem/descriptors` table keyed by InChIKey. Other input artifacts are passed on. It streams: the
 * molecules are read and the table written a chunk at a time.
 */
export const descriptors: StepModule<DescriptorsParams> = {
  kind: 'transform',
  version: '2',
  parseParams,
  streaming: true,
  async run(ctx) {
    const molecules = rowsInputOf(ctx.input, CHEM_KINDS.molecules, ROWS.molecules);
    const { decimals } = ctx.params;
    const table = ctx.batch(CHEM_KINDS.descriptors, { rowsField: 'rows', header: { decimals } });
    for await (const chunk of molecules.chunks()) {
      const rows: DescriptorRow[] = [];
      for (const molecule of chunk) {
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
      await table.pushAll(rows);
    }
    return { outputs: forward(ctx.input, [await table.close()]) };
  },
};
