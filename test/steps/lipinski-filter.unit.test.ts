import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArtifact, type Artifact } from '../../src/core/artifact.js';
import { ValidationError } from '../../src/core/error-class.js';
import type { DescriptorTable, LipinskiResult, MoleculeSet } from '../../src/steps/chem-artifacts.js';
import { lipinskiFilter } from '../../src/steps/lipinski-filter.js';
import { describedMolecules, KNOWN } from './support/molecules.js';
import { hashesOf, outputOf, runStep, scratchDir } from './support/run-step.js';

let dir: string;
let remove: () => Promise<void>;
let input: Artifact[];
beforeAll(async () => {
  ({ dir, remove } = await scratchDir());
  input = await describedMolecules(dir, ['aspirin', 'amiodarone', 'levothyroxine']);
});
afterAll(() => remove());

const verdicts = (run: Awaited<ReturnType<typeof runStep>>) =>
  Object.fromEntries(outputOf<LipinskiResult>(run, 'chem/lipinski').verdicts.map((v) => [v.name, [v.passes, v.violations]]));

describe('chem/lipinski-filter', () => {
  it("fails a known violator (amiodarone: MW 645 > 500, cLogP 6.9 > 5) and keeps the rest", async () => {
    const run = await runStep(lipinskiFilter, { input });
    expect(verdicts(run)).toEqual({
      aspirin: [true, []],
      amiodarone: [false, ['mw', 'clogp']],
      levothyroxine: [true, ['mw']], // one violation is allowed by Lipinski's rule
    });
    const result = outputOf<LipinskiResult>(run, 'chem/lipinski');
    expect(result.rule).toEqual({ maxViolations: 1, limits: { mw: 500, clogp: 5, hbd: 5, hba: 10 } });
    expect([result.passed, result.failed]).toEqual([2, 1]);
    expect(outputOf<MoleculeSet>(run, 'chem/molecules').molecules.map((m) => m.inchikey)).toEqual([KNOWN.aspirin.inchikey, KNOWN.levothyroxine.inchikey]);
    expect(run.result.outputs.map((o) => o.kind)).toEqual(['chem/rejected-rows', 'chem/descriptors', 'chem/molecules', 'chem/lipinski']);
  });

  it('applies its params: no violation allowed, other limits', async () => {
    expect(verdicts(await runStep(lipinskiFilter, { input, params: { maxViolations: 0 } }))).toMatchObject({ levothyroxine: [false, ['mw']] });
    const strict = await runStep(lipinskiFilter, { input, params: { maxViolations: 0, limits: { mw: 150 } } });
    expect(verdicts(strict)).toMatchObject({ aspirin: [false, ['mw']] });
    expect(outputOf<LipinskiResult>(strict, 'chem/lipinski').rule.limits).toEqual({ mw: 150, clogp: 5, hbd: 5, hba: 10 });
  });

  it('fails Validation when descriptors are missing', async () => {
    await expect(runStep(lipinskiFilter, { input: input.filter((a) => a.kind !== 'chem/descriptors') })).rejects.toMatchObject({
      constructor: ValidationError,
      code: 'MISSING_INPUT',
    });
  });

  /** The input with the descriptor table's rows changed by `edit`. */
  const withRows = (edit: (rows: DescriptorTable['rows']) => DescriptorTable['rows']): Artifact[] =>
    input.map((a) => {
      if (a.kind !== 'chem/descriptors') return a;
      const table = a.payload as DescriptorTable;
      return createArtifact({ kind: a.kind, payload: { ...table, rows: edit(table.rows) } });
    });

  it('gives the same artifacts with descriptors in another order, and inputs whole or as batches', async () => {
    const expected = hashesOf(await runStep(lipinskiFilter, { input }));
    const reordered = withRows((rows) => [...rows].reverse());
    const shuffled = hashesOf(await runStep(lipinskiFilter, { input: reordered }));
    // Every artifact but the reordered table itself, passed on.
    expect(shuffled.filter((_, i) => i !== 1)).toEqual(expected.filter((_, i) => i !== 1));
    expect(hashesOf(await runStep(lipinskiFilter, { input, inputsAs: 'batches' }))).toEqual(expected);
    expect(hashesOf(await runStep(lipinskiFilter, { input: reordered, inputsAs: 'batches' }))).toEqual(shuffled);
  });

  it('fails Validation for a molecule without descriptors, whether the table is in order or not', async () => {
    for (const left of [2, 0]) {
      const partial = withRows((rows) => rows.filter((_, i) => i !== left));
      await expect(runStep(lipinskiFilter, { input: partial, inputsAs: 'batches' })).rejects.toMatchObject({
        constructor: ValidationError,
        code: 'MISSING_DESCRIPTORS',
      });
    }
  });

  it('fails Validation for a malformed row of a batch input, naming it', async () => {
    const broken = withRows((rows) => rows.map((r, i) => (i === 2 ? { ...r, hbd: -1 } : r)));
    await expect(runStep(lipinskiFilter, { input: broken, inputsAs: 'batches' })).rejects.toMatchObject({
      constructor: ValidationError,
      code: 'MALFORMED_INPUT',
      details: { kind: 'chem/descriptors', issues: [expect.stringMatching(/^rows\.2\.hbd: /)] },
    });
  });
});
