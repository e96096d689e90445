import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, ValidationError } from '../../src/core/error-class.js';
import type { MoleculeSet, RejectedRows } from '../../src/steps/chem-artifacts.js';
import { readSmiles } from '../../src/steps/read-smiles.js';
import { KNOWN, writeCsv } from './support/molecules.js';
import { outputOf, runStep, scratchDir } from './support/run-step.js';

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => ({ dir, remove } = await scratchDir()));
afterAll(() => remove());

const read = (file: string, params: Record<string, unknown> = {}) => runStep(readSmiles, { params: { file, ...params }, baseDir: dir });

describe('chem/read-smiles', () => {
  it('canonicalises SMILES and identifies molecules by their InChIKey', async () => {
    const file = await writeCsv(dir, [
      ['Aspirin', 'OC(=O)c1ccccc1OC(C)=O'], // written differently from RDKit's canonical form
      ['Caffeine', KNOWN.caffeine.smiles],
      ['Naproxen', KNOWN.naproxen.smiles],
    ]);
    const run = await read(file);
    const set = outputOf<MoleculeSet>(run, 'chem/molecules');
    expect(set.source).toBe('molecules.csv');
    expect(set.molecules).toEqual([
      { inchikey: KNOWN.aspirin.inchikey, name: 'Aspirin', smiles: 'CC(=O)Oc1ccccc1C(=O)O', line: 2 },
      { inchikey: KNOWN.caffeine.inchikey, name: 'Caffeine', smiles: 'Cn1c(=O)c2c(ncn2C)n(C)c1=O', line: 3 },
      { inchikey: KNOWN.naproxen.inchikey, name: 'Naproxen', smiles: 'COc1ccc2cc([C@H](C)C(=O)O)ccc2c1', line: 4 },
    ]);
    expect(outputOf<RejectedRows>(run, 'chem/rejected-rows').rows).toEqual([]);
    expect(run.signals).toEqual([]);
  });

  it('reports invalid SMILES with RDKit reason and keeps going (not fatal)', async () => {
    const file = await writeCsv(dir, [
      ['Aspirin', KNOWN.aspirin.smiles],
      ['Truncated, on purpose', 'CC(=O)Oc1ccccc1C(=O'],
      ['Pentavalent carbon', 'CC(C)(C)(C)(C)C'],
      ['Not aromatic', 'c1cccc1'],
      ['Empty', ''],
      ['Ibuprofen', KNOWN.ibuprofen.smiles],
    ], 'some-invalid.csv');
    const run = await read(file);
    expect(outputOf<MoleculeSet>(run, 'chem/molecules').molecules.map((m) => m.name)).toEqual(['Aspirin', 'Ibuprofen']);
    expect(outputOf<RejectedRows>(run, 'chem/rejected-rows').rows).toEqual([
      { line: 3, name: 'Truncated, on purpose', smiles: 'CC(=O)Oc1ccccc1C(=O', reason: 'SMILES Parse Error: extra open parentheses while parsing: CC(=O)Oc1ccccc1C(=O' },
      { line: 4, name: 'Pentavalent carbon', smiles: 'CC(C)(C)(C)(C)C', reason: 'Explicit valence for atom # 1 C, 6, is greater than permitted' },
      { line: 5, name: 'Not aromatic', smiles: 'c1cccc1', reason: expect.stringMatching(/^Can't kekulize mol/) as string },
      { line: 6, name: 'Empty', smiles: '', reason: 'empty SMILES' },
    ]);
    expect(run.signals).toEqual([{ name: 'rejected-rows', data: { count: 4, lines: [3, 4, 5, 6] } }]);
  });

  it('gives the same payloads on every run (no times, no absolute paths)', async () => {
    const file = await writeCsv(dir, [['Paracetamol', KNOWN.paracetamol.smiles], ['Bad', 'C1CC(']], 'stable.csv');
    const [a, b] = [await read(file), await read(file)];
    expect(b.result.outputs).toEqual(a.result.outputs);
    expect(JSON.stringify(a.result.outputs)).not.toContain(dir);
  });

  it('rejects a second row of a molecule already read, naming the first', async () => {
    const file = await writeCsv(dir, [['Aspirin', KNOWN.aspirin.smiles], ['Acetylsalicylic acid', 'OC(=O)c1ccccc1OC(C)=O']], 'duplicates.csv');
    const run = await read(file);
    expect(outputOf<MoleculeSet>(run, 'chem/molecules').molecules).toHaveLength(1);
    expect(outputOf<RejectedRows>(run, 'chem/rejected-rows').rows[0]?.reason).toBe(`same molecule (InChIKey ${KNOWN.aspirin.inchikey}) as line 2`);
  });

  it('reads other column names, quoted fields and CRLF line ends', async () => {
    await writeFile(join(dir, 'other.csv'), 'id,label,structure\r\n1,"Caffeine, anhydrous",Cn1cnc2c1c(=O)n(C)c(=O)n2C\r\n');
    const run = await read('other.csv', { smilesColumn: 'structure', nameColumn: 'label' });
    expect(outputOf<MoleculeSet>(run, 'chem/molecules').molecules).toEqual([
      expect.objectContaining({ name: 'Caffeine, anhydrous', inchikey: KNOWN.caffeine.inchikey, line: 2 }),
    ]);
  });

  it('fails Permanent on a missing file, Validation on a missing column or no readable molecule', async () => {
    await expect(read('nowhere.csv')).rejects.toMatchObject({ constructor: PermanentError, code: 'INPUT_UNREADABLE' });
    await writeFile(join(dir, 'no-smiles.csv'), 'name,structure\nAspirin,CC\n');
    await expect(read('no-smiles.csv')).rejects.toMatchObject({ constructor: ValidationError, code: 'MISSING_COLUMN' });
    const allBad = await writeCsv(dir, [['Bad', 'C1CC('], ['Worse', 'xyz']], 'all-bad.csv');
    await expect(read(allBad)).rejects.toMatchObject({ constructor: ValidationError, code: 'NO_MOLECULES' });
    await writeFile(join(dir, 'open-quote.csv'), 'name,smiles\n"Aspirin,CC\n');
    await expect(read('open-quote.csv')).rejects.toMatchObject({ constructor: ValidationError, code: 'CSV_SYNTAX' });
  });

  it('names the columns of a header it lacks one of, but never quotes the first line of a file that is no CSV', async () => {
    await writeFile(join(dir, 'named.csv'), 'id,label,structure (SMILES)\n1,Aspirin,CC\n');
    const named = (await read('named.csv').catch((e: unknown) => e)) as ValidationError;
    expect(named.message).toBe('named.csv has no column "smiles"; its header has "id", "label", "structure (SMILES)"');
    expect(named.details).toEqual({ column: 'smiles', header: ['id', 'label', 'structure (SMILES)'] });

    const secret = 'root:$6$Zq8pW1$Hb0tW2xSecretHashValue:19700:0:99999:7:::';
    for (const [file, text] of [
      ['shadow', `${secret}\ndaemon:*:19700:0:99999:7:::\n`],
      ['id_ed25519', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE\n'],
      ['.env', 'DATABASE_URL=postgres://app:hunter2@db.internal/prod,REGION=eu\n'],
    ] as const) {
      await writeFile(join(dir, file), text);
      const error = (await read(file).catch((e: unknown) => e)) as ValidationError;
      expect(error).toMatchObject({ constructor: ValidationError, code: 'MISSING_COLUMN' });
      const recorded = `${error.message} ${JSON.stringify(error.details)}`;
      expect(recorded).not.toContain(text.split('\n')[0]!.slice(0, 12));
      expect(recorded).not.toMatch(/hunter2|Secret|BEGIN|b3Bl/);
      expect(error.message).toBe(`${file} has no column "smiles"; its first line (${text.split('\n')[0]!.split(',').length} field(s)) does not look like a header of column names, so it is not quoted`);
    }
  });

  it('records only line numbers, not the rows, when no row is a molecule', async () => {
    await writeFile(join(dir, 'no-molecule.csv'), 'name,smiles\nhunter2,C1CC(\nAKIAIOSFODNN7EXAMPLE,xyz\n');
    const error = (await read('no-molecule.csv').catch((e: unknown) => e)) as ValidationError;
    expect(error).toMatchObject({ code: 'NO_MOLECULES', details: { rejected: 2, lines: [2, 3] } });
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toMatch(/hunter2|AKIA|C1CC|xyz/);
  });
});

describe('chem/read-smiles on molecules RDKit cannot cope with', () => {
  it('rejects a chain too long for RDKit with its reason, and reads the next rows with a fresh RDKit', async () => {
    const file = await writeCsv(dir, [
      ['Aspirin', KNOWN.aspirin.smiles],
      ['Polyethylene, 1000 carbons', 'C'.repeat(1000)], // traps while parsing
      ['Caffeine', KNOWN.caffeine.smiles],
      ['Polyethylene, 650 carbons', 'C'.repeat(650)], // parses, then overflows while canonicalising
      ['Naproxen', KNOWN.naproxen.smiles],
    ], 'long-chains.csv');
    const run = await read(file);
    expect(outputOf<MoleculeSet>(run, 'chem/molecules').molecules).toEqual([
      { inchikey: KNOWN.aspirin.inchikey, name: 'Aspirin', smiles: 'CC(=O)Oc1ccccc1C(=O)O', line: 2 },
      { inchikey: KNOWN.caffeine.inchikey, name: 'Caffeine', smiles: 'Cn1c(=O)c2c(ncn2C)n(C)c1=O', line: 4 },
      { inchikey: KNOWN.naproxen.inchikey, name: 'Naproxen', smiles: 'COc1ccc2cc([C@H](C)C(=O)O)ccc2c1', line: 6 },
    ]);
    const tooLong = "too large for RDKit: a chain this long overflows RDKit's WebAssembly stack (the limit is about 500 atoms in a row)";
    expect(outputOf<RejectedRows>(run, 'chem/rejected-rows').rows.map(({ line, reason }) => ({ line, reason }))).toEqual([
      { line: 3, reason: `${tooLong} (WebAssembly trap: memory access out of bounds)` },
      { line: 5, reason: expect.stringContaining(tooLong) as string },
    ]);
  });

  it('reads a 400-carbon chain: the stack limit is not an atom-count limit set lower than needed', async () => {
    const file = await writeCsv(dir, [['Polyethylene, 400 carbons', 'C'.repeat(400)]], 'chain-400.csv');
    const run = await read(file);
    expect(outputOf<MoleculeSet>(run, 'chem/molecules').molecules).toEqual([expect.objectContaining({ smiles: 'C'.repeat(400) })]);
  });

  it('rejects isotopes and charges RDKit would store changed, or that no atom can have', async () => {
    const file = await writeCsv(dir, [
      ['Carbon-999999', '[999999C]'], // RDKit keeps 16 bits: [16959C]
      ['Wraps to carbon-14', 'C[65550CH3]'],
      ['Wraps to no isotope', '[65536CH4]'],
      ['Charge wraps', '[C+999999]'], // RDKit keeps 8 bits: +63
      ['Charge +99', '[C+99]'],
      ['Charge -10', '[C-10]'],
      ['Carbon without enough electrons', '[C+7]'],
      ['Carbon-1', '[1CH4]'],
      ['Mass number 301', '[301U]'],
      ['Carbon-13 methanol', '[13CH3]O'],
      ['Nitromethane, neutral form', 'CN(=O)=O'], // RDKit writes it charge-separated: not a changed charge
      ['Osmium(VIII)', '[Os+8]'],
      ['Deuterated water', '[2H]O[2H]'],
    ], 'labels.csv');
    const run = await read(file);
    expect(outputOf<MoleculeSet>(run, 'chem/molecules').molecules.map((m) => m.smiles)).toEqual(['[13CH3]O', 'C[N+](=O)[O-]', '[Os+8]', '[2H]O[2H]']);
    expect(outputOf<RejectedRows>(run, 'chem/rejected-rows').rows.map((r) => r.reason)).toEqual([
      'isotope 999999 of [999999C] is out of the range RDKit stores (it reads 16959)',
      'isotope 65550 of [65550CH3] is out of the range RDKit stores (it reads 14)',
      'isotope 65536 of [65536CH4] is out of the range RDKit stores (it reads none)',
      'charge +999999 of [C+999999] is out of the range RDKit stores (it reads +63)',
      'formal charge +99 of atom #0 (atomic number 6) is beyond ±9',
      'formal charge -10 of atom #0 (atomic number 6) is beyond ±9',
      'formal charge +7 of atom #0 (atomic number 6) is impossible: an atom cannot lose more electrons than it has',
      'isotope 1 of atom #0 (atomic number 6) is impossible: a mass number is at least the atomic number',
      'isotope 301 of atom #0 (atomic number 92) is above 300, heavier than any known nucleus',
    ]);
  });
});
