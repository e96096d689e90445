/**
 * Writes `molecules.csv` (`name,smiles`) for the screening example: a virtual library enumerated
 * deterministically as scaffolds × substituent A × substituent B, canonicalised with RDKit and kept
 * only when RDKit reads it, its SMILES and its InChIKey are new (chem/read-smiles keys molecules by
 * InChIKey, so two tautomers with one key would make the second a rejected row).
 *
 *   npx tsx examples/screening/make-library.ts           # (re)writes molecules.csv
 *   npx tsx examples/screening/make-library.ts --check   # checks the shipped file against RDKit
 *   npx tsx examples/screening/make-library.ts --size 1000000 --out /tmp/screen-1m.csv
 *                                                        # a larger library: a third substituent C
 *
 * No download, no randomness: the same RDKit release gives the same file byte for byte.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
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

/**
 * Substituent C of the larger library (`--size`): written in front of the scaffold, so that its last
 * atom bonds to the scaffold's first atom (`Cl` + `c1cc…` is `Clc1cc…`). Ring closures use %71. A
 * scaffold whose first atom has no hydrogen to spare (`O=C…`) makes RDKit reject the combination.
 * The first is nothing: the larger library starts with this example's molecules (named `…-C01`).
 */
const PREFIXES: readonly string[] = [
  '', 'F', 'Cl', 'Br', 'C', 'CC', 'CCC', 'CC(C)', 'CO', 'CCO', 'N#C', 'FC(F)(F)', 'FC(F)(F)O', 'CC(=O)N',
  'CS(=O)(=O)', 'O', 'N', 'CN(C)', 'CC(C)(C)', 'C%71CC%71', 'OC(=O)', 'COC(=O)', 'NC(=O)', 'c%71ccccc%71',
  'C#C', 'CN', 'OC',
];

interface Candidate {
  name: string;
  written: string;
}

/** Every combination of the larger library, in its order: C, then scaffold, A and B as in `enumerate`. */
function* candidates(): Generator<Candidate> {
  for (const [c, prefix] of PREFIXES.entries())
    for (const [s, scaffold] of SCAFFOLDS.entries())
      for (const [i, a] of SUBSTITUENTS.entries())
        for (const [j, b] of SUBSTITUENTS.entries()) {
          if (NOT_ON_B.has(b)) continue;
          const written = prefix + scaffold.replace('{A}', branch(a, '8')).replace('{B}', branch(b, '9'));
          yield { name: `S${id(s)}-A${id(i)}-B${id(j)}-C${id(c)}`, written };
        }
}

/**
 * A thread of RDKit: receives a batch of SMILES, answers `canonical|inchikey` for each (empty when RDKit
 * rejects it). Plain JavaScript evaluated in the worker, so it needs no TypeScript loader.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
require(workerData.rdkit)().then((rdkit) => {
  parentPort.on('message', ({ id, smiles }) => {
    const out = smiles.map((s) => {
      const mol = rdkit.get_mol(s);
      try {
        if (mol === null || !mol.is_valid() || mol.get_num_atoms() === 0) return '';
        const inchi = mol.get_inchi();
        const key = inchi === '' ? '' : rdkit.get_inchikey_for_inchi(inchi);
        return key === '' ? '' : mol.get_smiles() + '|' + key;
      } finally {
        if (mol !== null) mol.delete();
      }
    });
    parentPort.postMessage({ id, out });
  });
  parentPort.postMessage({ ready: true });
});
`;

/**
 * The first `size` distinct molecules of `candidates()`: every combination is read by RDKit (in
 * `threads` worker threads, batches answered in order), and kept when RDKit reads it and neither its
 * canonical SMILES nor its InChIKey has been seen. The order of the output is the order of the
 * combinations, whatever the threads, so the file is the same byte for byte.
 */
async function enumerateLarge(size: number, threads: number): Promise<{ entries: Entry[]; invalid: number; duplicates: number }> {
  const rdkitPath = createRequire(import.meta.url).resolve('@rdkit/rdkit');
  const workers = await Promise.all(
    Array.from({ length: threads }, () => {
      const worker = new Worker(WORKER, { eval: true, workerData: { rdkit: rdkitPath } });
      return new Promise<Worker>((resolve, reject) => {
        worker.once('message', () => resolve(worker));
        worker.once('error', reject);
      });
    }),
  );
  const pending = new Map<number, (out: string[]) => void>();
  for (const worker of workers) worker.on('message', ({ id, out }: { id: number; out: string[] }) => pending.get(id)?.(out));
  const ask = (id: number, batch: Candidate[]): Promise<string[]> =>
    new Promise((resolve) => {
      pending.set(id, resolve);
      workers[id % workers.length]?.postMessage({ id, smiles: batch.map((c) => c.written) });
    });

  const BATCH = 2_000;
  const entries: Entry[] = [];
  const seenSmiles = new Set<string>();
  const seenKeys = new Set<string>();
  let invalid = 0;
  let duplicates = 0;
  const source = candidates();
  let nextId = 0;
  const inFlight: { batch: Candidate[]; answer: Promise<string[]> }[] = [];
  const refill = (): void => {
    while (inFlight.length < threads * 3) {
      const batch: Candidate[] = [];
      for (let n = 0; n < BATCH; n++) {
        const next = source.next();
        if (next.done === true) break;
        batch.push(next.value);
      }
      if (batch.length === 0) return;
      inFlight.push({ batch, answer: ask(nextId++, batch) });
    }
  };
  refill();
  const started = performance.now();
  let answered = 0;
  while (entries.length < size && inFlight.length > 0) {
    const { batch, answer } = inFlight.shift() as (typeof inFlight)[number];
    const out = await answer;
    refill();
    batch.forEach((candidate, k) => {
      if (entries.length >= size) return;
      const read = out[k] ?? '';
      if (read === '') {
        invalid++;
        return;
      }
      const [smiles = '', inchikey = ''] = read.split('|');
      if (seenSmiles.has(smiles) || seenKeys.has(inchikey)) {
        duplicates++;
        return;
      }
      seenSmiles.add(smiles);
      seenKeys.add(inchikey);
      entries.push({ name: candidate.name, smiles });
    });
    if (++answered % 50 === 0)
      console.log(`${entries.length} molecules after ${Math.round((performance.now() - started) / 1000)} s`);
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return { entries, invalid, duplicates };
}

function option(flag: string): string | undefined {
  const at = process.argv.indexOf(flag);
  return at === -1 ? undefined : process.argv[at + 1];
}

async function main(): Promise<void> {
  const rdkit = await rdkitPackage.default();
  console.log(`RDKit ${rdkit.version()}`);
  const size = option('--size');
  if (size !== undefined) {
    const wanted = Number(size);
    const threads = Number(option('--threads') ?? availableParallelism());
    const out = option('--out');
    if (!Number.isInteger(wanted) || wanted < 1 || !Number.isInteger(threads) || threads < 1 || out === undefined)
      throw new Error('usage: make-library.ts --size N --out FILE [--threads N]');
    const { entries, invalid, duplicates } = await enumerateLarge(wanted, threads);
    if (entries.length < wanted) throw new Error(`only ${entries.length} distinct molecules, fewer than ${wanted}`);
    await writeFile(out, `name,smiles\n${entries.map((e) => `${e.name},${e.smiles}`).join('\n')}\n`);
    console.log(`${entries.length} molecules written to ${out} (${invalid} combinations RDKit rejected, ${duplicates} duplicates dropped)`);
    return;
  }
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
