#!/usr/bin/python3
"""Native RDKit scores for chemflow's molecules, joined with its RDKit-WASM descriptors.

    /usr/bin/python3 scores.py MOLECULES.csv DESCRIPTORS.csv OUT.csv

MOLECULES.csv is a `chem/molecules` batch staged as CSV (inchikey,name,smiles,line), DESCRIPTORS.csv
the `chem/descriptors` table of the same molecules (inchikey,mw,clogp,...), as chem/descriptors computed
them with RDKit's WebAssembly build. For every molecule, in input order, OUT.csv gets:

    inchikey, name, smiles        as given
    mw, clogp, tpsa               the WebAssembly descriptors, joined by InChIKey
    qed                           Bickerton's quantitative estimate of drug-likeness (rdkit.Chem.QED)
    heavy_atoms                   heavy atoms of the molecule
    embedded                      1 if ETKDGv3 found a 3D conformer (fixed seed), else 0
    rgyr, npr1, npr2              radius of gyration (Å) and normalised principal moments of that
                                  conformer after an MMFF94 minimisation; empty when not embedded

Everything is rounded (qed, npr to 3 decimals, rgyr to 2) and computed in one thread with a fixed seed,
so the same molecules give the same file byte for byte: chemflow's fingerprints stay stable on a rerun.
Needs Debian's python3-rdkit, i.e. /usr/bin/python3 (a `python3` earlier on PATH may have no RDKit).
"""
import csv
import sys

from rdkit import Chem, RDLogger
from rdkit.Chem import QED, AllChem, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")

SEED = 0xF00D
HEADER = ["inchikey", "name", "smiles", "mw", "clogp", "tpsa", "qed", "heavy_atoms", "embedded", "rgyr", "npr1", "npr2"]


def conformer_facts(mol):
    """(embedded, rgyr, npr1, npr2) of one ETKDGv3 conformer, MMFF-minimised; blanks if none."""
    with_h = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = SEED
    params.numThreads = 1
    if AllChem.EmbedMolecule(with_h, params) != 0:
        return ["0", "", "", ""]
    if AllChem.MMFFHasAllMoleculeParams(with_h):
        AllChem.MMFFOptimizeMolecule(with_h, maxIters=500)
    return [
        "1",
        f"{rdMolDescriptors.CalcRadiusOfGyration(with_h):.2f}",
        f"{rdMolDescriptors.CalcNPR1(with_h):.3f}",
        f"{rdMolDescriptors.CalcNPR2(with_h):.3f}",
    ]


def main():
    molecules_csv, descriptors_csv, out_csv = sys.argv[1:4]
    with open(descriptors_csv, newline="") as f:
        descriptors = {row["inchikey"]: row for row in csv.DictReader(f)}
    with open(molecules_csv, newline="") as f, open(out_csv, "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        count = 0
        for row in csv.DictReader(f):
            mol = Chem.MolFromSmiles(row["smiles"])
            if mol is None:
                sys.exit(f"line {row['line']}: RDKit cannot read {row['smiles']!r}")  # exit 1: Runtime
            wasm = descriptors.get(row["inchikey"])
            if wasm is None:
                sys.exit(f"no descriptors for {row['inchikey']}")
            writer.writerow(
                [row["inchikey"], row["name"], row["smiles"], wasm["mw"], wasm["clogp"], wasm["tpsa"],
                 f"{QED.qed(mol):.3f}", str(mol.GetNumHeavyAtoms())] + conformer_facts(mol)
            )
            count += 1
    print(f"scored {count} molecules", file=sys.stderr)


if __name__ == "__main__":
    main()
