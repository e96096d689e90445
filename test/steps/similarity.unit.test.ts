import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import { ValidationError } from '../../src/core/error-class.js';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';
import type { SimilarityTable } from '../../src/steps/chem-artifacts.js';
import { similarity } from '../../src/steps/similarity.js';
import { describedMolecules, KNOWN } from './support/molecules.js';
import { issuesOf } from './support/params-issues.js';
import { hashesOf, outputOf, runStep, scratchDir } from './support/run-step.js';

let dir: string;
let remove: () => Promise<void>;
let input: Artifact[];
beforeAll(async () => {
  ({ dir, remove } = await scratchDir());
  input = await describedMolecules(dir, ['aspirin', 'ibuprofen', 'paracetamol', 'naproxen']);
});
afterAll(() => remove());

const REFERENCES = [
  { name: 'aspirin', smiles: KNOWN.aspirin.smiles },
  { name: 'ibuprofen', smiles: KNOWN.ibuprofen.smiles },
  // Salicylic acid: aspirin without its acetyl group.
  { name: 'salicylic acid', smiles: 'OC(=O)c1ccccc1O' },
];

describe('chem/similarity', () => {
  it('gives each molecule its Tanimoto similarity to every reference, the highest and its reference (values as native RDKit gives them)', async () => {
    const run = await runStep(similarity, { input, params: { references: REFERENCES } });
    const table = outputOf<SimilarityTable>(run, 'chem/similarity');
    expect(table).toMatchObject({ radius: 2, nBits: 2048, decimals: 3, references: { aspirin: KNOWN.aspirin.smiles, 'salicylic acid': 'OC(=O)c1ccccc1O' } });
    expect(table.rows.map((r) => r.inchikey)).toEqual([KNOWN.aspirin.inchikey, KNOWN.ibuprofen.inchikey, KNOWN.paracetamol.inchikey, KNOWN.naproxen.inchikey]);
    const [aspirin, ibuprofen] = table.rows;
    expect(aspirin).toMatchObject({ maxSimilarity: 1, nearest: 'aspirin', similarity: { aspirin: 1 } });
    expect(ibuprofen).toMatchObject({ maxSimilarity: 1, nearest: 'ibuprofen', similarity: { ibuprofen: 1 } });
    // Morgan(2, 2048) Tanimoto from RDKit 2022.09 (Python): AllChem.GetMorganFingerprintAsBitVect + DataStructs.TanimotoSimilarity.
    expect(table.rows.map((r) => r.similarity)).toEqual(SIMILARITIES);
    for (const row of table.rows) expect(row.maxSimilarity).toBe(Math.max(...Object.values(row.similarity)));
    expect(run.artifacts.map((a) => a.kind)).toEqual(['chem/molecules', 'chem/rejected-rows', 'chem/descriptors', 'chem/similarity']);
    expect(hashesOf(run).slice(0, 3)).toEqual(input.map((a) => a.hash));
  });

  it('names the first reference in list order on a tie', async () => {
    const twice = [{ name: 'first', smiles: KNOWN.aspirin.smiles }, { name: 'second', smiles: 'O=C(O)c1ccccc1OC(C)=O' }];
    const table = outputOf<SimilarityTable>(await runStep(similarity, { input, params: { references: twice } }), 'chem/similarity');
    for (const row of table.rows) {
      expect(row.similarity.first).toBe(row.similarity.second);
      expect(row.nearest).toBe('first');
    }
    const swapped = outputOf<SimilarityTable>(await runStep(similarity, { input, params: { references: [...twice].reverse() } }), 'chem/similarity');
    expect(swapped.rows.map((r) => r.nearest)).toEqual(table.rows.map(() => 'second'));
  });

  it('uses radius, nBits and decimals', async () => {
    const params = { references: REFERENCES.slice(0, 1), radius: 1, nBits: 1024, decimals: 2 };
    const table = outputOf<SimilarityTable>(await runStep(similarity, { input, params }), 'chem/similarity');
    expect(table).toMatchObject({ radius: 1, nBits: 1024, decimals: 2 });
    for (const row of table.rows) expect(Number(row.maxSimilarity.toFixed(2))).toBe(row.maxSimilarity);
    const again = await runStep(similarity, { input, params });
    expect(outputOf(again, 'chem/similarity')).toEqual(table);
  });

  it('refuses bad params when they are parsed: no references, an unreadable SMILES, a repeated name, an unknown key', () => {
    const parse = similarity.parseParams!;
    expect(() => parse({})).toThrow(/references/);
    expect(() => parse({ references: [] })).toThrow(/too_small|>=1|at least/i);
    expect(issuesOf(() => parse({ references: [{ name: 'bad', smiles: 'C1CC(' }] }))).toEqual([
      ['references.0.smiles', 'RDKit cannot read the SMILES "C1CC(": SMILES Parse Error: syntax error while parsing: C1CC('],
    ]);
    expect(issuesOf(() => parse({ references: [{ name: 'a', smiles: 'CCO' }, { name: 'a', smiles: 'CCN' }] }))).toEqual([
      ['references.1.name', 'name "a" is already that of item 0'],
    ]);
    expect(issuesOf(() => parse({ references: [{ name: 'a', smiles: 'CCO', weight: 2 }] }))).toEqual([['references.0', expect.stringMatching(/weight/)]]);
    expect(() => parse({ references: REFERENCES, radius: -1 })).toThrow(/radius/);
    expect(parse({ references: REFERENCES })).toEqual({ references: REFERENCES, radius: 2, nBits: 2048, decimals: 3 });
  });

  it('a flow file with a reference SMILES or an alert SMARTS RDKit cannot read is refused when loaded, each at its line', async () => {
    const flow = [
      'name: screens',
      'steps:',
      '  - { id: read, uses: chem/read-smiles, params: { file: molecules.csv } }',
      '  - id: similarity',
      '    uses: chem/similarity',
      '    params:',
      '      references:',
      '        - { name: ok, smiles: CCO }',
      '        - { name: broken, smiles: "C1CC(" }',
      '  - id: alerts',
      '    uses: chem/alerts',
      '    params: { alerts: [{ name: open, smarts: "C(=O" }] }',
    ].join('\n');
    await writeFile(join(dir, 'screens.yaml'), flow + '\n');
    const error = await loadFlowFile(join(dir, 'screens.yaml'), { builtins: BUILTIN_STEPS, cwd: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlowFileError);
    expect((error as FlowFileError).issues).toEqual([
      expect.objectContaining({
        problem: 'invalid_params',
        path: 'steps[1].params.references[1].smiles',
        message: 'RDKit cannot read the SMILES "C1CC(": SMILES Parse Error: syntax error while parsing: C1CC(',
        line: 9,
      }),
      expect.objectContaining({
        problem: 'invalid_params',
        path: 'steps[2].params.alerts[0].smarts',
        message: 'RDKit cannot read the SMARTS "C(=O": SMARTS Parse Error: extra open parentheses while parsing: C(=O',
        line: 12,
      }),
    ]);
  });

  it('fails Validation on a reference RDKit refuses at run time, and without chem/molecules', async () => {
    // An isotope RDKit cannot store: read, but refused by the same rules as every molecule.
    await expect(runStep(similarity, { input, params: { references: [{ name: 'odd', smiles: '[999999C]' }] } })).rejects.toMatchObject({
      constructor: ValidationError,
      code: 'INVALID_REFERENCE',
    });
    await expect(runStep(similarity, { input: [{ kind: 'number', payload: { n: 1 } }], params: { references: REFERENCES } })).rejects.toMatchObject({
      code: 'MISSING_INPUT',
    });
  });
});

/** Rounded to 3 decimals with `toFixed`, as the step rounds. */
const SIMILARITIES: Record<string, number>[] = [
  { aspirin: 1, ibuprofen: 0.195, 'salicylic acid': 0.448 },
  { aspirin: 0.195, ibuprofen: 1, 'salicylic acid': 0.194 },
  { aspirin: 0.222, ibuprofen: 0.184, 'salicylic acid': 0.226 },
  { aspirin: 0.205, ibuprofen: 0.421, 'salicylic acid': 0.175 },
];
