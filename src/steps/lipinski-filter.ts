import { z } from 'zod';
import type { StepModule } from '../core/definition.js';
import { ValidationError } from '../core/error-class.js';
import {
  CHEM_KINDS,
  descriptorTableSchema,
  lipinskiLimitsSchema,
  moleculeSetSchema,
  type DescriptorRow,
  type LipinskiLimits,
  type LipinskiResult,
  type LipinskiRule,
  type LipinskiVerdict,
  type MoleculeSet,
} from './chem-artifacts.js';
import { paramsParser } from './params.js';
import { forward, inputOf } from './step-io.js';

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
  run(ctx) {
    const set = inputOf(ctx.input, CHEM_KINDS.molecules, moleculeSetSchema);
    const table = inputOf(ctx.input, CHEM_KINDS.descriptors, descriptorTableSchema);
    const byKey = new Map(table.rows.map((row) => [row.inchikey, row]));
    const verdicts: LipinskiVerdict[] = set.molecules.map((molecule) => {
      const row = byKey.get(molecule.inchikey);
      if (row === undefined)
        throw new ValidationError(`no descriptors for ${molecule.inchikey} (${molecule.name}) in the input`, {
          code: 'MISSING_DESCRIPTORS',
          details: { inchikey: molecule.inchikey },
        });
      const violations = violationsOf(row, ctx.params.limits);
      const { inchikey, name, smiles, line } = molecule;
      return { inchikey, name, smiles, line, violations, passes: violations.length <= ctx.params.maxViolations };
    });
    const passing = new Set(verdicts.filter((v) => v.passes).map((v) => v.inchikey));
    const result: LipinskiResult = {
      rule: { maxViolations: ctx.params.maxViolations, limits: ctx.params.limits },
      passed: passing.size,
      failed: verdicts.length - passing.size,
      verdicts,
    };
    const kept: MoleculeSet = { source: set.source, molecules: set.molecules.filter((m) => passing.has(m.inchikey)) };
    return {
      outputs: forward(ctx.input, [
        { kind: CHEM_KINDS.molecules, payload: kept },
        { kind: CHEM_KINDS.lipinski, payload: result },
      ]),
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
