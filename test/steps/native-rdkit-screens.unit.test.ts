import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import { alerts } from '../../src/steps/alerts.js';
import type { AlertTable, MoleculeSet, SimilarityTable } from '../../src/steps/chem-artifacts.js';
import { morganBits, tanimoto } from '../../src/steps/fingerprints.js';
import { roundTo } from '../../src/steps/rdkit-descriptors.js';
import { withMolecule } from '../../src/steps/rdkit.js';
import { readSmiles } from '../../src/steps/read-smiles.js';
import { similarity } from '../../src/steps/similarity.js';
import { DEFAULT_ALERTS } from '../../src/steps/structural-alerts.js';
import { isCi } from '../helpers/ci.js';
import { ALERT_EXAMPLES } from './support/alert-examples.js';
import { artifactsOf, outputOf, runStep } from './support/run-step.js';

/** Debian's python3-rdkit (2022.09) belongs to this interpreter; the pyenv `python3` on PATH has none. */
const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import rdkit'], { encoding: 'utf8' });
const rdkitMissing = probe.status === 0 ? null : `${PYTHON} has no RDKit (install python3-rdkit: scripts/install-chem-tools.sh)`;
if (rdkitMissing !== null && isCi()) throw new Error(`CI is set but ${rdkitMissing}`);

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'lipinski');

/** Three of the example's drugs, of different classes. */
const REFERENCES = [
  { name: 'Aspirin', smiles: 'CC(=O)Oc1ccccc1C(=O)O' },
  { name: 'Diazepam', smiles: 'CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21' },
  { name: 'Imatinib', smiles: 'Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1' },
];

interface Native {
  /** Tanimoto of each molecule to each reference, unrounded. */
  similarity: number[][];
  /** Whether each molecule matches each default alert. */
  matches: boolean[][];
}

/**
 * Morgan(2, 2048) Tanimoto and alert matches computed with native RDKit directly, not through chemflow:
 * `AllChem.GetMorganFingerprintAsBitVect`, `DataStructs.TanimotoSimilarity`, `Chem.MolFromSmarts` and
 * `HasSubstructMatch`, on the SMILES the steps read.
 */
function native(smiles: readonly string[]): Native {
  const code = `import json, sys
from rdkit import Chem, DataStructs
from rdkit.Chem import AllChem
data = json.load(sys.stdin)
fp = lambda m: AllChem.GetMorganFingerprintAsBitVect(m, 2, nBits=2048)
mols = [Chem.MolFromSmiles(s) for s in data["smiles"]]
refs = [fp(Chem.MolFromSmiles(s)) for s in data["references"]]
queries = [Chem.MolFromSmarts(s) for s in data["alerts"]]
assert all(q is not None for q in queries)
print(json.dumps({
  "similarity": [[DataStructs.TanimotoSimilarity(fp(m), r) for r in refs] for m in mols],
  "matches": [[m.HasSubstructMatch(q) for q in queries] for m in mols],
}))`;
  const input = JSON.stringify({ smiles, references: REFERENCES.map((r) => r.smiles), alerts: DEFAULT_ALERTS.map((a) => a.smarts) });
  const run = spawnSync(PYTHON, ['-c', code], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as Native;
}

describe.skipIf(rdkitMissing !== null)('chem/similarity and chem/alerts agree with native RDKit on the Lipinski example', () => {
  let read: Artifact[];
  let molecules: MoleculeSet['molecules'];
  let expected: Native;
  beforeAll(async () => {
    read = artifactsOf(await runStep(readSmiles, { params: { file: 'molecules.csv' }, baseDir: EXAMPLE }));
    molecules = (read.find((a) => a.kind === 'chem/molecules')?.payload as MoleculeSet).molecules;
    expected = native(molecules.map((m) => m.smiles));
  }, 120_000);

  it('reads the example’s 142 drugs', () => {
    expect(molecules).toHaveLength(142);
  });

  it('Morgan(2, 2048) Tanimoto: every unrounded value equal, every row as the step writes it after the same rounding', async () => {
    const refBits: Uint8Array[] = [];
    for (const r of REFERENCES) {
      const bits = await withMolecule(r.smiles, (mol) => morganBits(mol, 2, 2048));
      if (!bits.ok) throw new Error(bits.reason);
      refBits.push(bits.value);
    }
    const raw: number[][] = [];
    for (const m of molecules) {
      const bits = await withMolecule(m.smiles, (mol) => morganBits(mol, 2, 2048));
      if (!bits.ok) throw new Error(bits.reason);
      raw.push(refBits.map((r) => tanimoto(bits.value, r)));
    }
    const differing = molecules.flatMap((m, i) => (JSON.stringify(raw[i]) === JSON.stringify(expected.similarity[i]) ? [] : [`${m.name}: ${JSON.stringify(raw[i])} ≠ ${JSON.stringify(expected.similarity[i])}`]));
    expect(differing).toEqual([]);

    const table = outputOf<SimilarityTable>(await runStep(similarity, { input: read, params: { references: REFERENCES } }), 'chem/similarity');
    const rows = expected.similarity.map((values, i) => {
      const rounded = values.map((v) => roundTo(v, 3));
      const max = Math.max(...rounded);
      return {
        inchikey: molecules[i]?.inchikey,
        maxSimilarity: max,
        nearest: REFERENCES[rounded.indexOf(max)]?.name,
        similarity: Object.fromEntries(REFERENCES.map((r, j) => [r.name, rounded[j]])),
      };
    });
    expect(table.rows).toEqual(rows);
    // The references themselves are among the drugs: each is its own nearest, at 1.
    for (const r of REFERENCES) expect(table.rows[molecules.findIndex((m) => m.name === r.name)]).toMatchObject({ maxSimilarity: 1, nearest: r.name });
  });

  it('default alerts: every match of every alert on every molecule as native RDKit finds it', async () => {
    const table = outputOf<AlertTable>(await runStep(alerts, { input: read }), 'chem/alerts');
    const rows = expected.matches.map((matches, i) => {
      const names = DEFAULT_ALERTS.filter((_, j) => matches[j] === true).map((a) => a.name);
      return { inchikey: molecules[i]?.inchikey, alerts: names, count: names.length };
    });
    expect(table.rows).toEqual(rows);
    // Not a vacuous comparison: the drugs carry several of the alerts.
    const found = new Set(rows.flatMap((r) => r.alerts));
    expect([...found].sort()).toEqual(['catechol', 'hydrazine', 'nitro', 'thiol']);
  });

  it('default alerts: every alert on a small molecule made to carry it, as native RDKit finds them', async () => {
    const smiles = Object.values(ALERT_EXAMPLES);
    const mine: boolean[][] = [];
    for (const s of smiles) {
      const matched = await withMolecule(s, (mol, rdkit) =>
        DEFAULT_ALERTS.map(({ smarts }) => {
          const q = rdkit.get_qmol(smarts);
          if (q === null) throw new Error(`unreadable SMARTS ${smarts}`);
          try {
            return mol.get_substruct_match(q) !== '{}';
          } finally {
            q.delete();
          }
        }),
      );
      if (!matched.ok) throw new Error(matched.reason);
      mine.push(matched.value);
    }
    expect(mine).toEqual(native(smiles).matches);
  });
});

if (rdkitMissing !== null) describe('chem/similarity and chem/alerts against native RDKit', () => it.skip(`SKIPPED: ${rdkitMissing}`));
