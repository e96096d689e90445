import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/error-class.js';
import type { DescriptorTable } from '../../src/steps/chem-artifacts.js';
import { descriptors } from '../../src/steps/descriptors.js';
import { describedMolecules } from './support/molecules.js';
import { hashesOf, outputOf, runStep, scratchDir, type StepRun } from './support/run-step.js';

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => ({ dir, remove } = await scratchDir()));
afterAll(() => remove());

const tableOf = (artifacts: Awaited<ReturnType<typeof describedMolecules>>): DescriptorTable =>
  artifacts.find((a) => a.kind === 'chem/descriptors')?.payload as DescriptorTable;

describe('chem/descriptors', () => {
  it('computes known values (PubChem: aspirin 180.16 g/mol, TPSA 63.6 Å²; caffeine 194.19; ibuprofen 206.28)', async () => {
    const table = tableOf(await describedMolecules(dir, ['aspirin', 'caffeine', 'ibuprofen', 'paracetamol']));
    expect(table.decimals).toBe(2);
    expect(table.rows).toEqual([
      { inchikey: 'BSYNRYMUTXBXSQ-UHFFFAOYSA-N', mw: 180.16, clogp: 1.31, hbd: 1, hba: 4, tpsa: 63.6, rotatableBonds: 2 },
      { inchikey: 'RYYVLZVUVIJVGH-UHFFFAOYSA-N', mw: 194.19, clogp: -1.03, hbd: 0, hba: 6, tpsa: 61.82, rotatableBonds: 0 },
      { inchikey: 'HEFNNWSXXWATRW-UHFFFAOYSA-N', mw: 206.28, clogp: 3.07, hbd: 1, hba: 2, tpsa: 37.3, rotatableBonds: 4 },
      { inchikey: 'RZVAJINKPMORJF-UHFFFAOYSA-N', mw: 151.16, clogp: 1.35, hbd: 2, hba: 3, tpsa: 49.33, rotatableBonds: 1 },
    ]);
  });

  it('passes the other input artifacts on unchanged', async () => {
    const artifacts = await describedMolecules(dir, ['aspirin']);
    expect(artifacts.map((a) => a.kind)).toEqual(['chem/molecules', 'chem/rejected-rows', 'chem/descriptors']);
    const again = await runStep(descriptors, { input: artifacts.slice(0, 2) });
    expect(hashesOf(again)).toEqual(artifacts.map((a) => a.hash));
  });

  it('rounds to `decimals`', async () => {
    const [molecules] = await describedMolecules(dir, ['aspirin']);
    const run: StepRun = await runStep(descriptors, { input: [molecules!], params: { decimals: 4 } });
    expect(outputOf<DescriptorTable>(run, 'chem/descriptors').rows[0]).toMatchObject({ mw: 180.159, clogp: 1.3101, tpsa: 63.6 });
  });

  it('fails Validation without a chem/molecules input', async () => {
    await expect(runStep(descriptors, { input: [{ kind: 'number', payload: { n: 1 } }] })).rejects.toMatchObject({
      constructor: ValidationError,
      code: 'MISSING_INPUT',
      message: 'expected an input artifact of kind chem/molecules; the previous step gave number',
    });
    await expect(runStep(descriptors, { input: [{ kind: 'chem/molecules', payload: { molecules: 3 } }] })).rejects.toMatchObject({
      constructor: ValidationError,
      code: 'MALFORMED_INPUT',
    });
  });
});
