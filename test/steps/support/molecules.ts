import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Artifact } from '../../../src/core/artifact.js';
import { descriptors } from '../../../src/steps/descriptors.js';
import { readSmiles } from '../../../src/steps/read-smiles.js';
import { artifactsOf, runStep } from './run-step.js';

/** Well-known molecules with facts from PubChem, used across the step tests. */
export const KNOWN = {
  aspirin: { smiles: 'CC(=O)Oc1ccccc1C(=O)O', inchikey: 'BSYNRYMUTXBXSQ-UHFFFAOYSA-N', mw: 180.16, formula: 'C9H8O4' },
  caffeine: { smiles: 'Cn1cnc2c1c(=O)n(C)c(=O)n2C', inchikey: 'RYYVLZVUVIJVGH-UHFFFAOYSA-N', mw: 194.19, formula: 'C8H10N4O2' },
  ibuprofen: { smiles: 'CC(C)Cc1ccc(cc1)C(C)C(=O)O', inchikey: 'HEFNNWSXXWATRW-UHFFFAOYSA-N', mw: 206.28, formula: 'C13H18O2' },
  paracetamol: { smiles: 'CC(=O)Nc1ccc(O)cc1', inchikey: 'RZVAJINKPMORJF-UHFFFAOYSA-N', mw: 151.16, formula: 'C8H9NO2' },
  // (S)-naproxen: the stereo layer of the InChIKey checks that stereochemistry survives canonicalisation.
  naproxen: { smiles: 'C[C@H](C(=O)O)c1ccc2cc(OC)ccc2c1', inchikey: 'CMWTZPSULFXXJA-VIFPVBQESA-N', mw: 230.26, formula: 'C14H14O3' },
  // Two of Lipinski's limits exceeded: MW 645.3 > 500 and cLogP 6.9 > 5.
  amiodarone: { smiles: 'CCCCc1oc2ccccc2c1C(=O)c1cc(I)c(OCCN(CC)CC)c(I)c1', inchikey: 'IYIKLHRQXLHMJQ-UHFFFAOYSA-N', mw: 645.32, formula: 'C25H29I2NO3' },
  // One limit exceeded (MW 776.9): passes with Lipinski's "at most one violation".
  levothyroxine: { smiles: 'N[C@@H](Cc1cc(I)c(Oc2cc(I)c(O)c(I)c2)c(I)c1)C(=O)O', inchikey: 'XUIIKFGFIJCVMT-LBPRGKRZSA-N', mw: 776.87, formula: 'C15H11I4NO4' },
} as const;

export type KnownName = keyof typeof KNOWN;

/** A `name,smiles` CSV of the given rows, written in `dir`; returns the file name. */
export async function writeCsv(dir: string, rows: readonly (readonly [string, string])[], file = 'molecules.csv'): Promise<string> {
  const quote = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  await writeFile(join(dir, file), ['name,smiles', ...rows.map(([n, s]) => `${quote(n)},${quote(s)}`)].join('\n') + '\n');
  return file;
}

/** Reads the named known molecules and computes their descriptors: the input of the later steps. */
export async function describedMolecules(dir: string, names: readonly KnownName[]): Promise<Artifact[]> {
  const file = await writeCsv(dir, names.map((n) => [n, KNOWN[n].smiles] as const), `${names.join('-')}.csv`);
  const read = await runStep(readSmiles, { params: { file }, baseDir: dir });
  return artifactsOf(await runStep(descriptors, { input: artifactsOf(read) }));
}
