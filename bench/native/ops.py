#!/usr/bin/python3
"""Per-molecule cost of each RDKit operation of the screen, natively: microseconds per molecule.

    /usr/bin/python3 bench/native/ops.py examples/screening/molecules.csv --limit 2000

Prints one JSON object: {"molecules": n, "us": {"parse": ..., "smiles": ..., "mw": ..., ..., "all": ...}}.
`parse` is Chem.MolFromSmiles; every other operation is timed on freshly parsed molecules, as the screen
meets them (RDKit caches ring information and Crippen contributions on a molecule, so a second call on the
same molecule is cheaper), as (parse + operation) - parse. `all` is what screen.py does per molecule:
parse, canonical SMILES and the six descriptors. Each pass runs 3 times; the fastest is kept.
"""
import argparse
import csv
import json
import time

from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")

OPERATIONS = {
    "smiles": Chem.MolToSmiles,
    "mw": Descriptors.MolWt,
    "clogp": Crippen.MolLogP,
    "hbd": rdMolDescriptors.CalcNumLipinskiHBD,
    "hba": rdMolDescriptors.CalcNumLipinskiHBA,
    "tpsa": rdMolDescriptors.CalcTPSA,
    "rotatableBonds": rdMolDescriptors.CalcNumRotatableBonds,
}


def all_of(mol):
    for fn in OPERATIONS.values():
        fn(mol)


def timed(fn, smiles):
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for s in smiles:
            fn(Chem.MolFromSmiles(s))
        best = min(best, time.perf_counter() - started)
    return best / len(smiles) * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--limit", type=int, default=2000)
    args = parser.parse_args()
    with open(args.input, newline="") as f:
        rows = list(csv.DictReader(f))
    step = max(1, len(rows) // args.limit)  # spread over the file: scaffolds come in blocks
    smiles = [row["smiles"] for row in rows[::step][: args.limit]]
    parse = timed(lambda mol: None, smiles)
    us = {"parse": parse}
    for name, fn in OPERATIONS.items():
        us[name] = max(0.0, timed(fn, smiles) - parse)
    us["all"] = timed(all_of, smiles)
    print(json.dumps({"molecules": len(smiles), "us": {k: round(v, 1) for k, v in us.items()}}))


if __name__ == "__main__":
    main()
