import { z } from 'zod';
import type { StepModule } from '../core/definition.js';
import { ValidationError } from '../core/error-class.js';
import { CHEM_KINDS, lipinskiLimitsSchema, ROWS, type DescriptorRow, type LipinskiLimits, type LipinskiRule, type LipinskiVerdict, type Molecule } from './chem-artifacts.js';
import { paramsParser } from './params.js';
import { KeyedRows } from './row-join.js';
import { forward, rowsInputOf } from './step-io.js';

const parseParams = paramsParser({
  /** A molecule passes with at most this many limits exceeded (Lipinski: "more than one" is poor). */
  maxViolations: z.int().min(0).max(4).default(1),
  /** Lipinski's limits: MW ≤ 500, cLogP ≤ 5, H-bond donors ≤ 5, H-bond acceptors ≤ 10. */
  limits: lipinskiLimitsSchema.default({ mw: 500, clogp: 5, hbd: 5, hba: 10 }),
});
export type LipinskiFilterParams = ReturnType<typeof parseParams>;

/**
 * `chem/lipinski-filter` (transform): Lipinski's rule of five on `chem/descriptors`. Writes a verdict
 * for every molecule (`chem/lipinski`, with the limits each exceeds) and replaces `chem/molecules` by
 * the molecules that pass, so that steps after it work on drug-like molecules only.
 */
export const lipinskiFilter: StepModule<LipinskiFilterParams> = {
  kind: 'transform',
  version: '1',
  parseParams,
  // Each verdict depends on its molecule alone, but `passed` and `failed` count the whole batch; they
  // cannot change without changing every existing fingerprint, so the step is not mapped instead.
  notMappable: 'its chem/lipinski output counts the molecules that pass and fail in the whole batch (passed, failed)',
  streaming: true,
  async run(ctx) {
    const molecules = rowsInputOf(ctx.input, CHEM_KINDS.molecules, ROWS.molecules);
    const table = rowsInputOf(ctx.input, CHEM_KINDS.descriptors, ROWS.descriptors);
    const { limits, maxViolations } = ctx.params;
    // The descriptors are read beside the molecules, row for row when they are in the molecules' order
    // (a table computed from these molecules is); otherwise through a map of the table. InChIKeys of a
    // molecule set are distinct, so both find the same row.
    const descriptorsOf = new KeyedRows(() => table.chunks());
    const kept = ctx.batch(CHEM_KINDS.molecules, { rowsField: 'molecules', header: molecules.header });
    const verdicts = ctx.batch(CHEM_KINDS.lipinski, { rowsField: 'verdicts' });
    let passed = 0;
    let failed = 0;
    try {
      for await (const chunk of molecules.chunks()) {
        const passing: Molecule[] = [];
        const judged: LipinskiVerdict[] = [];
        for (const molecule of chunk) {
          const row = await descriptorsOf.get(molecule.inchikey);
          if (row === undefined)
            throw new ValidationError(`no descriptors for ${molecule.inchikey} (${molecule.name}) in the input`, {
              code: 'MISSING_DESCRIPTORS',
              details: { inchikey: molecule.inchikey },
            });
          const violations = violationsOf(row, limits);
          const { inchikey, name, smiles, line } = molecule;
          const passes = violations.length <= maxViolations;
          judged.push({ inchikey, name, smiles, line, violations, passes });
          if (passes) {
            passed++;
            passing.push(molecule);
          } else failed++;
        }
        await verdicts.pushAll(judged);
        await kept.pushAll(passing);
      }
    } finally {
      await descriptorsOf.close();
    }
    return {
      outputs: forward(ctx.input, [await kept.close(), await verdicts.close({ rule: { maxViolations, limits }, passed, failed })]),
    };
  },
};

/** The limits a molecule exceeds, in Lipinski's order. A value equal to its limit passes. */
export function violationsOf(row: DescriptorRow, limits: LipinskiLimits): LipinskiRule[] {
  const exceeded: LipinskiRule[] = [];
  if (row.mw > limits.mw) exceeded.push('mw');
  if (row.clogp > limits.clogp) exceeded.push('clogp');
  if (row.hbd > limits.hbd) exceeded.push('hbd');
  if (row.hba > limits.hba) exceeded.push('hba');
  return exceeded;
}
