import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';
import { scratchDir } from './support/run-step.js';

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => ({ dir, remove } = await scratchDir()));
afterAll(() => remove());

async function load(text: string) {
  const file = join(dir, 'flow.yaml');
  await writeFile(file, text);
  return loadFlowFile(file, { builtins: BUILTIN_STEPS, cwd: dir });
}

describe('built-in chemistry step params', () => {
  it('are checked when the flow file is loaded: every problem at once, with its path and line', async () => {
    const error = await load(`name: bad
steps:
  - { id: read, uses: chem/read-smiles, params: { fiel: molecules.csv } }
  - { id: descriptors, uses: chem/descriptors, params: { decimals: 9 } }
  - { id: properties, uses: chem/property-provider, params: { unavailableAttempts: -1 } }
  - { id: lipinski, uses: chem/lipinski-filter, params: { maxViolations: one, limits: { mw: 0, logp: 5 } } }
  - { id: report, uses: chem/report, params: { name: ../escape } }
`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FlowFileError);
    const issues = (error as FlowFileError).issues.map((i) => `${i.line}: ${i.path}: ${i.message}`);
    expect(issues).toEqual([
      '3: steps[0].params.file: is required (expected a string)',
      '3: steps[0].params.fiel: unknown param "fiel"; expected only file, smilesColumn, nameColumn',
      '4: steps[1].params.decimals: expected a number <= 6, got 9',
      '5: steps[2].params.unavailableAttempts: expected a number >= 0, got -1',
      '6: steps[3].params.maxViolations: expected a number, got "one"',
      '6: steps[3].params.limits.mw: expected a number > 0, got 0',
      '6: steps[3].params.limits.logp: unknown param "logp"; expected only mw, clogp, hbd, hba',
      '7: steps[4].params.name: expected a file name of letters, digits, ".", "_" or "-" (no directory)',
    ]);
    expect((error as FlowFileError).issues.every((i) => i.problem === 'invalid_params')).toBe(true);
  });

  it('refuse a report directory outside the flow file\'s directory at its line, naming the opt-in', async () => {
    const error = (await load(`name: out
steps:
  - { id: read, uses: chem/read-smiles, params: { file: molecules.csv } }
  - { id: descriptors, uses: chem/descriptors }
  - { id: lipinski, uses: chem/lipinski-filter }
  - { id: report, uses: chem/report, params: { outDir: ../../home/me/.ssh } }
`).catch((e: unknown) => e)) as FlowFileError;
    expect(error.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`)).toEqual([
      '6: steps[3].params.outDir: "../../home/me/.ssh" leads out with "..": the report is written inside the flow file\'s directory unless the step sets allowOutside: true',
    ]);
  });

  it('get their defaults, which enter the step fingerprints', async () => {
    const loaded = await load(`name: defaults
steps:
  - { id: read, uses: chem/read-smiles, params: { file: molecules.csv } }
  - { id: descriptors, uses: chem/descriptors }
  - { id: properties, uses: chem/property-provider }
  - { id: lipinski, uses: chem/lipinski-filter, params: { limits: { mw: 600 } } }
  - { id: report, uses: chem/report }
`);
    expect(loaded.definition.steps.map((s) => [s.id, s.kind, s.version, s.baseParams])).toEqual([
      ['read', 'source', '2', { file: 'molecules.csv', smilesColumn: 'smiles', nameColumn: 'name' }],
      ['descriptors', 'transform', '2', { decimals: 2 }],
      ['properties', 'transform', '2', { unavailableAttempts: 0 }],
      ['lipinski', 'transform', '1', { maxViolations: 1, limits: { mw: 600, clogp: 5, hbd: 5, hba: 10 } }],
      ['report', 'sink', '3', { outDir: 'out', name: 'report', title: 'Lipinski rule of five', maxFailedShown: 200, maxPassedShown: 200 }],
    ]);
  });

  it('name the built-in types when a flow file asks for an unknown one', async () => {
    const error = (await load(`name: typo\nsteps:\n  - { id: read, uses: chem/read-smile }\n`).catch((e: unknown) => e)) as FlowFileError;
    expect(error.issues[0]?.message).toBe(
      'unknown step type "chem/read-smile"; expected one of chem/alerts, chem/descriptors, chem/lipinski-filter, chem/property-provider, chem/read-smiles, chem/report, chem/similarity, table/read-csv, or a module path starting with ./, ../ or /',
    );
  });
});
