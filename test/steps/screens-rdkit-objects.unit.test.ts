import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/core/artifact.js';
import { alerts } from '../../src/steps/alerts.js';
import { withMolecule, type RDKit } from '../../src/steps/rdkit.js';
import { readSmiles } from '../../src/steps/read-smiles.js';
import { similarity } from '../../src/steps/similarity.js';
import { artifactsOf, runStep } from './support/run-step.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'lipinski');

/**
 * Counts the molecules and query molecules made by the shared RDKit module (`get_mol`, `get_qmol`)
 * and how many of them were freed: WebAssembly memory is not garbage collected, so each must be.
 */
function countObjects(rdkit: RDKit): { made: () => number; freed: () => number; restore: () => void } {
  let made = 0;
  let freed = 0;
  // The module's own functions, to call with the module as `this` and to put back.
  const getMol = Reflect.get(rdkit, 'get_mol');
  const getQmol = Reflect.get(rdkit, 'get_qmol');
  const counted = <T extends { delete(): void } | null>(mol: T): T => {
    if (mol === null) return mol;
    made++;
    const free = mol.delete.bind(mol);
    mol.delete = () => {
      freed++;
      free();
    };
    return mol;
  };
  // Embind's overloaded functions find their overloads on the module's property at each call.
  rdkit.get_mol = Object.assign((...args: Parameters<RDKit['get_mol']>) => counted(getMol.apply(rdkit, args)), overloadsOf(getMol));
  rdkit.get_qmol = Object.assign((...args: Parameters<RDKit['get_qmol']>) => counted(getQmol.apply(rdkit, args)), overloadsOf(getQmol));
  return {
    made: () => made,
    freed: () => freed,
    restore: () => {
      rdkit.get_mol = getMol;
      rdkit.get_qmol = getQmol;
    },
  };
}

function overloadsOf(f: object): object {
  return 'overloadTable' in f ? { overloadTable: f.overloadTable } : {};
}

describe('chem/similarity and chem/alerts free every RDKit object they make', () => {
  let read: Artifact[];
  let rdkit: RDKit;
  let restore = (): void => undefined;
  beforeAll(async () => {
    read = artifactsOf(await runStep(readSmiles, { params: { file: 'molecules.csv' }, baseDir: EXAMPLE }));
    const shared = await withMolecule('C', (_mol, module) => module);
    if (!shared.ok) throw new Error(shared.reason);
    rdkit = shared.value;
  }, 120_000);
  afterEach(() => restore());

  const references = [
    { name: 'Aspirin', smiles: 'CC(=O)Oc1ccccc1C(=O)O' },
    { name: 'Caffeine', smiles: 'Cn1cnc2c1c(=O)n(C)c(=O)n2C' },
  ];
  for (const [name, run] of [
    ['chem/similarity', () => runStep(similarity, { input: read, params: { references } })],
    ['chem/alerts', () => runStep(alerts, { input: read })],
  ] as const)
    it(`${name} on the Lipinski example's 142 drugs`, async () => {
      const counter = countObjects(rdkit);
      restore = counter.restore;
      await run();
      // At least one molecule per drug (and per reference, or one query per alert) was made.
      expect(counter.made()).toBeGreaterThanOrEqual(142);
      expect(counter.freed()).toBe(counter.made());
    });
});
