// Per-molecule cost of each RDKit MinimalLib (WebAssembly) call chemflow's screen makes, on the molecules
// bench/native/ops.py times natively: parse (get_mol), canonical SMILES (get_smiles), InChIKey (get_inchi +
// get_inchikey_for_inchi), the descriptors (get_descriptors: every descriptor at once, as a JSON string,
// then JSON.parse), and what chem/read-smiles + chem/descriptors do per molecule (parse twice, SMILES,
// InChIKey, descriptors). Each operation on freshly parsed molecules, (parse + operation) - parse, fastest of 3.
import { readFileSync } from 'node:fs';
import rdkitPackage, { type MainModule, type Mol } from '@rdkit/rdkit';

export type OpCosts = Record<string, number>;

export function sampleSmiles(file: string, limit: number): string[] {
  const rows = readFileSync(file, 'utf8').trimEnd().split('\n').slice(1);
  const step = Math.max(1, Math.floor(rows.length / limit));
  const picked: string[] = [];
  for (let i = 0; i < rows.length && picked.length < limit; i += step) picked.push(rows[i]?.split(',')[1] ?? '');
  return picked;
}

export async function wasmOpCosts(smiles: readonly string[]): Promise<OpCosts> {
  const rdkit: MainModule = await rdkitPackage.default();
  const timed = (use: (mol: Mol) => void): number => {
    let best = Infinity;
    for (let pass = 0; pass < 3; pass++) {
      const started = performance.now();
      for (const s of smiles) {
        const mol = rdkit.get_mol(s);
        if (mol === null) throw new Error(`RDKit cannot read ${s}`);
        try {
          use(mol);
        } finally {
          mol.delete();
        }
      }
      best = Math.min(best, performance.now() - started);
    }
    return (best / smiles.length) * 1000;
  };
  const parse = timed(() => undefined);
  const minusParse = (us: number): number => Math.max(0, us - parse);
  const inchikey = (mol: Mol): string => rdkit.get_inchikey_for_inchi(mol.get_inchi());
  const all = timed((mol) => {
    mol.get_smiles();
    inchikey(mol);
    // chem/descriptors parses the canonical SMILES again, in another step
    const again = rdkit.get_mol(mol.get_smiles());
    JSON.parse(again?.get_descriptors() ?? '{}');
    again?.delete();
  });
  return {
    parse,
    smiles: minusParse(timed((mol) => void mol.get_smiles())),
    inchikey: minusParse(timed((mol) => void inchikey(mol))),
    descriptors: minusParse(timed((mol) => void mol.get_descriptors())),
    descriptorsJsonParse: minusParse(timed((mol) => void JSON.parse(mol.get_descriptors()))),
    all,
  };
}
