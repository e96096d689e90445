#!/usr/bin/python3
"""The screening example's chemistry in plain native RDKit: the reference chemflow is measured against.

    /usr/bin/python3 bench/native/screen.py examples/screening/molecules.csv --out /tmp/native.csv --procs 2

Reads a `name,smiles` CSV and, for every row, parses the SMILES, writes RDKit's canonical SMILES and the
six descriptors of chem/descriptors, computed and rounded as chemflow does:

    mw              Descriptors.MolWt                       (MinimalLib's get_descriptors `amw`)
    clogp           Crippen.MolLogP                         (`CrippenClogP`)
    hbd, hba        rdMolDescriptors.CalcNumLipinskiHBD/HBA (`lipinskiHBD`, `lipinskiHBA`)
    tpsa            rdMolDescriptors.CalcTPSA               (`tpsa`)
    rotatable_bonds rdMolDescriptors.CalcNumRotatableBonds  (`NumRotatableBonds`: RDKit's default
                    definition, NumRotatableBondsOptions.Default, which is the strict one)

Rounding is JavaScript's `Number(value.toFixed(d))` printed with `String()`: `toFixed` rounds the exact
binary value to the nearest multiple of 10^-d and a tie away from zero, which is what
`Decimal(value).quantize(..., ROUND_HALF_UP)` does. Python's own `round` and `format` round a tie to
even (0.125 -> 0.12 where JavaScript writes 0.13): not used.

Output (`--out`, default stdout), one line per input row in input order:

    name,smiles,mw,clogp,hbd,hba,tpsa,rotatable_bonds

A row RDKit cannot read has empty fields after its name. `--procs N` spreads the rows over N processes
(multiprocessing, chunks of `--chunk` rows, results kept in input order); 1 runs in this process.
A summary line (molecules, seconds) goes to stderr.

Needs an interpreter with RDKit: Debian's python3-rdkit is /usr/bin/python3's (a `python3` earlier on
PATH, e.g. pyenv's, may have none). Debian builds RDKit without InChI (rdkit.Chem.inchi.INCHI_AVAILABLE
is False), so no InChIKey is computed here, although chem/read-smiles computes one per molecule.
"""
import argparse
import csv
import sys
import time
from decimal import ROUND_HALF_UP, Decimal

from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")

HEADER = ["name", "smiles", "mw", "clogp", "hbd", "hba", "tpsa", "rotatable_bonds"]
DECIMALS = 2


def js_number(value, decimals):
    """`String(Number(value.toFixed(decimals)))` of JavaScript, for finite values below 1e21."""
    fixed = Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    number = float(fixed)
    if number == 0:
        return "0"  # chemflow's roundTo turns -0 into 0
    if number.is_integer():
        return str(int(number))
    text = repr(number)  # shortest round trip, as JavaScript's String()
    if "e" in text:  # Python writes 1e-05 where JavaScript writes 0.00001
        text = format(fixed.normalize(), "f")
    return text


def screen(row):
    name, smiles = row
    mol = Chem.MolFromSmiles(smiles.strip()) if smiles.strip() else None
    if mol is None or mol.GetNumAtoms() == 0:
        return [name] + [""] * (len(HEADER) - 1)
    return [
        name,
        Chem.MolToSmiles(mol),
        js_number(Descriptors.MolWt(mol), DECIMALS),
        js_number(Crippen.MolLogP(mol), DECIMALS),
        js_number(rdMolDescriptors.CalcNumLipinskiHBD(mol), 0),
        js_number(rdMolDescriptors.CalcNumLipinskiHBA(mol), 0),
        js_number(rdMolDescriptors.CalcTPSA(mol), DECIMALS),
        js_number(rdMolDescriptors.CalcNumRotatableBonds(mol), 0),
    ]


def screen_chunk(rows):
    return [screen(row) for row in rows]


def chunks(rows, size):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="CSV with a header row")
    parser.add_argument("--out", help="output CSV (default: stdout)")
    parser.add_argument("--procs", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--chunk", type=int, default=1000, help="rows per task with --procs > 1")
    parser.add_argument("--smiles-column", default="smiles")
    parser.add_argument("--name-column", default="name")
    args = parser.parse_args()

    started = time.perf_counter()
    with open(args.input, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        at_name, at_smiles = header.index(args.name_column), header.index(args.smiles_column)
        rows = [(r[at_name].strip(), r[at_smiles]) for r in reader if r]

    out = open(args.out, "w", newline="") if args.out else sys.stdout
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    unread = 0
    if args.procs <= 1:
        results = (screen_chunk(c) for c in chunks(rows, args.chunk))
        pool = None
    else:
        import multiprocessing

        pool = multiprocessing.get_context("fork").Pool(args.procs)
        results = pool.imap(screen_chunk, chunks(rows, args.chunk))
    for chunk in results:
        unread += sum(1 for r in chunk if r[1] == "")
        writer.writerows(chunk)
    if pool is not None:
        pool.close()
        pool.join()
    if out is not sys.stdout:
        out.close()
    seconds = time.perf_counter() - started
    print(f"{len(rows)} molecules ({unread} unread) in {seconds:.2f} s with {max(args.procs, 1)} process(es)", file=sys.stderr)


if __name__ == "__main__":
    main()
