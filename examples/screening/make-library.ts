/**
 * Writes `molecules.csv` (`name,smiles`) for the screening example: a virtual library enumerated
 * deterministically as scaffolds × substituent A × substituent B, canonicalised with RDKit and kept
 * only when RDKit reads it, its SMILES and its InChIKey are new (chem/read-smiles keys molecules by
 * InChIKey, so two tautomers with one key would make the second a rejected row).
 *
 *   npx tsx examples/screening/make-library.ts           # (re)writes molecules.csv
 *   npx tsx examples/screening/make-library.ts --check   # checks the shipped file against RDKit
 *
 * No download, no randomness: the same RDKit release gives the same file byte for byte.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import rdkitPackage, { type MainModule } from '@rdkit/rdkit';

const OUT = join(dirname(fileURLToPath(import.meta.url)), 'molecules.csv');
/** The example promises at least this many molecules. */
const MINIMUM = 50_000;

/**
 * Drug-like cores. `{A}` and `{B}` follow an atom that has a hydrogen to spare and become a branch
 * `(substituent)`, or nothing for hydrogen. Ring-closure digits 1–2 are the scaffolds'; substituents
 * use %81–%82 (A) and %91–%92 (B), so a substituent written inside an open scaffold ring never closes it.
 */
const SCAFFOLDS: readonly string[] = [
  'c1cc{A}ccc1C(=O)N{B}', // benzamide
  'c1cc{A}ccc1S(=O)(=O)N{B}', // benzenesulfonamide
  'c1cc{A}ncc1C(=O)N{B}', // nicotinamide
  'c1c{A}sc(N{B})n1', // 2-aminothiazole
  'c1cc{A}ccc1N{B}C(=O)C', // acetanilide
  'C1CC{B}CN(C1)C(=O)c1cc{A}ccc1', // benzoylpiperidine
  'c1cc{A}ccc1-c1cc{B}ccn1', // 2-arylpyridine
  'c1cc{A}c2[nH]c{B}nc2c1', // benzimidazole
  'O=C1N{B}C(=O)c2cc{A}ccc12', // phthalimide
  'c1ccc2c(c1)c{A}c{B}[nH]2', // indole
  'Cc1cc{A}nc(N{B})n1', // 2-aminopyrimidine
  'O=C(O{B})C{A}c1ccccc1', // phenylacetic acid / ester
  'C1CN(CCN1{B})c1cc{A}ccc1', // arylpiperazine
  'c1cc{A}oc1C(=O)N{B}', // furan-2-carboxamide
  'CC{A}NC(=O)c1ccc{B}s1', // thiophene-2-carboxamide
  'OC(=O)c1cc{A}c{B}cc1', // 3,4-disubstituted benzoic acid
  'c1cc{A}ccc1OCC{B}N', // aryloxy-ethylamine
  'C1CC1N{B}C(=O)c1cc{A}ncc1', // cyclopropyl isonicotinamide
  'c1cc{A}c2ncc{B}nc2c1', // quinoxaline
  'O=C(Nc1cc{A}ccc1)N{B}', // aryl urea
  'c1cc{A}ccc1C{B}=O', // aryl ketone / aldehyde
  'CN1CCC{B}(CC1)c1cc{A}ccc1', // 4-aryl-N-methylpiperidine
  'c1nc{A}c2cc{B}ccc2n1', // quinazoline
  'O=S(=O)(N{B})c1cc{A}cs1', // thiophene-3-sulfonamide
  'c1cc{A}ccc1C(=O)OC{B}', // benzoate ester
  'c1ccc2nc{A}c{B}cc2c1', // quinoline
];

/**
 * `%R1`, `%R2`: ring closures inside a substituent, renumbered per slot (see SCAFFOLDS). Small groups
 * and a few large lipophilic ones (iodophenyl, benzhydryl, chlorobiphenyl, octyl, naphthyl), so that
 * two large ones on one scaffold exceed both MW 500 and cLogP 5 and fail Lipinski's rule.
 */
const SUBSTITUENTS: readonly string[] = [
  '', 'C', 'CC', 'CCC', 'C(C)C', 'C(C)(C)C', 'C%R1CC%R1', 'C%R1CCCC%R1', 'C%R1CCCCC%R1',
  'F', 'Cl', 'Br', 'O', 'OC', 'OCC', 'OC(F)(F)F', 'c%R1ccc(I)cc%R1', 'C(F)(F)F', 'C#N',
  'N', 'NC', 'N(C)C', 'NC(C)=O', 'C(=O)O', 'C(=O)OC', 'C(=O)N', 'C(=O)NC', 'C(c%R1ccccc%R1)c%R2ccccc%R2',
  'S(C)(=O)=O', 'S(N)(=O)=O', 'c%R1ccc(-c%R2ccc(Cl)cc%R2)cc%R1', '[N+](=O)[O-]', 'CO', 'CCO', 'CN(C)C', 'CCCCCCCC', 'c%R1ccc%R2ccccc%R2c%R1', 'C#C',
  'c%R1ccccc%R1', 'c%R1ccc(F)cc%R1', 'c%R1ccc(Cl)cc%R1', 'c%R1ccc(OC)cc%R1', 'c%R1ccncc%R1', 'c%R1cccs%R1',
  'c%R1ccco%R1', 'C%R1CCOCC%R1', 'N%R1CCOCC%R1', 'N%R1CCCC%R1', 'N%R1CCN(C)CC%R1', 'Cc%R1ccccc%R1',
  'OCc%R1ccccc%R1', 'c%R1cn[nH]c%R1',
];

/** On B, which often sits on a nitrogen: no N–halogen, N–nitro or N–O/N–N oddities. */
const NOT_ON_B = new Set(['F', 'Cl', 'Br', 'O', '[N+](=O)[O-]', 'N', 'OC', 'OCC', 'OC(F)(F)F', 'OCc%R1ccccc%R1']);

function branch(substituent: string, digits: string): string {
  if (substituent === '') return '';
  return `(${substituent.replaceAll('%R1', `%${digits}1`).replaceAll('%R2', `%${digits}2`)})`;
}

const id = (n: number): string => String(n + 1).padStart(2, '0');

interface Entry {
  name: string;
  smiles: string;
}

function enumerate(rdkit: MainModule): { entries: Entry[]; invalid: number; duplicates: number } {
  const entries: Entry[] = [];
  const seenSmiles = new Set<string>();
  const seenKeys = new Set<string>();
  let invalid = 0;
  let duplicates = 0;
  SCAFFOLDS.forEach((scaffold, s) =>
    SUBSTITUENTS.forEach((a, i) =>
      SUBSTITUENTS.forEach((b, j) => {
        if (NOT_ON_B.has(b)) return;
        const written = scaffold.replace('{A}', branch(a, '8')).replace('{B}', branch(b, '9'));
        const read = canonical(rdkit, written);
        if (read === undefined) {
          invalid++;
          return;
        }
        if (seenSmiles.has(read.smiles) || seenKeys.has(read.inchikey)) {
          duplicates++;
          return;
        }
        seenSmiles.add(read.smiles);
        seenKeys.add(read.inchikey);
        entries.push({ name: `S${id(s)}-A${id(i)}-B${id(j)}`, smiles: read.smiles });
      }),
    ),
  );
  return { entries, invalid, duplicates };
}

function canonical(rdkit: MainModule, smiles: string): { smiles: string; inchikey: string } | undefined {
  const mol = rdkit.get_mol(smiles);
  try {
    if (mol === null || !mol.is_valid() || mol.get_num_atoms() === 0) return undefined;
    const inchi = mol.get_inchi();
    const inchikey = inchi === '' ? '' : rdkit.get_inchikey_for_inchi(inchi);
    return inchikey === '' ? undefined : { smiles: mol.get_smiles(), inchikey };
  } finally {
    mol?.delete();
  }
}

/** Every row parses, is already canonical, and no SMILES, InChIKey or name appears twice. */
async function check(rdkit: MainModule): Promise<string[]> {
  const [header, ...rows] = (await readFile(OUT, 'utf8')).trimEnd().split('\n');
  const problems: string[] = header === 'name,smiles' ? [] : [`header is ${JSON.stringify(header)}`];
  const names = new Set<string>();
  const smilesSeen = new Set<string>();
  const keys = new Set<string>();
  rows.forEach((row, index) => {
    const line = index + 2;
    const [name = '', smiles = ''] = row.split(',');
    const read = canonical(rdkit, smiles);
    if (read === undefined) problems.push(`line ${line}: RDKit cannot read ${smiles}`);
    else if (read.smiles !== smiles) problems.push(`line ${line}: ${smiles} is not canonical (${read.smiles})`);
    else if (keys.has(read.inchikey)) problems.push(`line ${line}: InChIKey ${read.inchikey} seen before`);
    if (names.has(name) || smilesSeen.has(smiles)) problems.push(`line ${line}: duplicate name or SMILES`);
    names.add(name);
    smilesSeen.add(smiles);
    if (read !== undefined) keys.add(read.inchikey);
  });
  if (rows.length < MINIMUM) problems.push(`${rows.length} molecules, fewer than ${MINIMUM}`);
  console.log(`${rows.length} molecules checked: ${problems.length === 0 ? 'all parse, canonical and distinct' : `${problems.length} problem(s)`}`);
  return problems;
}

async function main(): Promise<void> {
  const rdkit = await rdkitPackage.default();
  console.log(`RDKit ${rdkit.version()}`);
  if (process.argv.includes('--check')) {
    const problems = await check(rdkit);
    for (const problem of problems.slice(0, 20)) console.error(problem);
    process.exitCode = problems.length === 0 ? 0 : 1;
    return;
  }
  const { entries, invalid, duplicates } = enumerate(rdkit);
  if (entries.length < MINIMUM) throw new Error(`only ${entries.length} distinct molecules, fewer than ${MINIMUM}`);
  await writeFile(OUT, `name,smiles\n${entries.map((e) => `${e.name},${e.smiles}`).join('\n')}\n`);
  console.log(`${entries.length} molecules written to ${OUT} (${invalid} combinations RDKit rejected, ${duplicates} duplicates dropped)`);
}

await main();
