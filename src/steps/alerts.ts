import type { Mol } from '@rdkit/rdkit';
import { z } from 'zod';
import type { StepModule } from '../core/definition.js';
import { ValidationError } from '../core/error-class.js';
import { CHEM_KINDS, ROWS, type AlertRow } from './chem-artifacts.js';
import { paramsParser } from './params.js';
import { withMolecule, type RDKit } from './rdkit.js';
import { forward, rowsInputOf } from './step-io.js';
import { DEFAULT_ALERTS, type StructuralAlert } from './structural-alerts.js';
import { namedStructures } from './structure-params.js';

const parseParams = paramsParser({
  /** The alerts to look for, each a distinct name and a SMARTS; default the documented built-in list. */
  alerts: z
    .array(z.strictObject({ name: z.string().min(1), smarts: z.string().min(1) }))
    .min(1)
    .superRefine(namedStructures('smarts'))
    .default(() => DEFAULT_ALERTS.map((a) => ({ ...a }))),
});
export type AlertsParams = ReturnType<typeof parseParams>;

/**
 * `chem/alerts` (transform): for every molecule of `chem/molecules`, which structural alerts (SMARTS
 * substructure queries) it matches, as a `chem/alerts` table keyed by InChIKey. Other input artifacts
 * are passed on. It streams, and each row depends on its molecule alone, so it may be mapped over
 * molecules.
 */
export const alerts: StepModule<AlertsParams> = {
  kind: 'transform',
  version: '1',
  parseParams,
  streaming: true,
  async run(ctx) {
    const molecules = rowsInputOf(ctx.input, CHEM_KINDS.molecules, ROWS.molecules);
    const list = ctx.params.alerts;
    const table = ctx.batch(CHEM_KINDS.alerts, { rowsField: 'rows', header: { alerts: Object.fromEntries(list.map((a) => [a.name, a.smarts])) } });
    const queries = new Queries(list);
    try {
      for await (const chunk of molecules.chunks()) {
        const rows: AlertRow[] = [];
        for (const molecule of chunk) {
          ctx.signal.throwIfAborted();
          const matched = await withMolecule(molecule.smiles, (mol, rdkit) => queries.matchedBy(mol, rdkit));
          if (!matched.ok)
            throw new ValidationError(`molecule ${molecule.inchikey} (${molecule.name}) has a SMILES RDKit cannot read: ${matched.reason}`, {
              code: 'INVALID_MOLECULE',
              details: { inchikey: molecule.inchikey, smiles: molecule.smiles },
            });
          rows.push({ inchikey: molecule.inchikey, alerts: matched.value, count: matched.value.length });
        }
        await table.pushAll(rows);
      }
    } finally {
      queries.free();
    }
    return { outputs: forward(ctx.input, [await table.close()]) };
  },
};

/**
 * The alerts' query molecules, parsed once per attempt and RDKit module: a module that trapped on a
 * molecule is replaced by a fresh one (see `withMolecule`), and queries of the old module are dropped
 * with it, never used or freed there. `free` deletes those of the live module.
 */
class Queries {
  private rdkit: RDKit | undefined;
  private mols: Mol[] = [];

  constructor(private readonly alerts: readonly StructuralAlert[]) {}

  /** Names of the alerts `mol` matches, in list order. */
  matchedBy(mol: Mol, rdkit: RDKit): string[] {
    const queries = this.of(rdkit);
    return this.alerts.filter((_, i) => mol.get_substruct_match(queries[i] as Mol) !== '{}').map((a) => a.name);
  }

  free(): void {
    for (const q of this.mols) q.delete();
    this.mols = [];
    this.rdkit = undefined;
  }

  private of(rdkit: RDKit): Mol[] {
    if (rdkit === this.rdkit) return this.mols;
    this.mols = [];
    this.rdkit = undefined;
    const mols: Mol[] = [];
    try {
      for (const [index, { name, smarts }] of this.alerts.entries()) {
        const q = rdkit.get_qmol(smarts);
        if (q === null || !q.is_valid() || q.get_num_atoms() === 0) {
          q?.delete();
          throw new ValidationError(`alert ${JSON.stringify(name)} has a SMARTS RDKit cannot read: ${JSON.stringify(smarts)}`, {
            code: 'INVALID_ALERT',
            details: { index, name, smarts },
          });
        }
        mols.push(q);
      }
    } catch (error) {
      for (const q of mols) q.delete();
      throw error;
    }
    this.rdkit = rdkit;
    this.mols = mols;
    return mols;
  }
}
