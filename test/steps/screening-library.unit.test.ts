import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withMolecule } from '../../src/steps/rdkit.js';

const CSV = join(import.meta.dirname, '..', '..', 'examples', 'screening', 'molecules.csv');

/**
 * The shipped library as the README promises it. The full RDKit check of every row
 * (`npx tsx examples/screening/make-library.ts --check`) takes minutes; here every row is checked as text
 * and a fixed sample through RDKit.
 */
describe('examples/screening/molecules.csv', () => {
  it('holds at least 50,000 distinct named SMILES in plain CSV', async () => {
    const [header, ...rows] = (await readFile(CSV, 'utf8')).trimEnd().split('\n');
    expect(header).toBe('name,smiles');
    expect(rows.length).toBeGreaterThanOrEqual(50_000);
    const pairs = rows.map((row) => row.split(','));
    expect(pairs.every((p) => p.length === 2 && !/["\s]/.test(p[1] ?? '"'))).toBe(true);
    expect(new Set(pairs.map((p) => p[0])).size).toBe(rows.length);
    expect(new Set(pairs.map((p) => p[1])).size).toBe(rows.length);
  });

  it('every 100th row is a canonical SMILES RDKit reads', async () => {
    const rows = (await readFile(CSV, 'utf8')).trimEnd().split('\n').slice(1);
    const sample = rows.filter((_, i) => i % 100 === 0).map((row) => row.split(',')[1] ?? '');
    for (const smiles of sample) {
      const read = await withMolecule(smiles, (mol) => mol.get_smiles());
      expect(read, smiles).toEqual({ ok: true, value: smiles });
    }
  });
});
