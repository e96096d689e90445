import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StoredArtifact } from '../../src/core/artifact.js';
import { alerts } from '../../src/steps/alerts.js';
import { readSmiles } from '../../src/steps/read-smiles.js';
import { similarity } from '../../src/steps/similarity.js';
import { runStep, storedOf } from './support/run-step.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'lipinski');

const REFERENCES = [
  { name: 'Aspirin', smiles: 'CC(=O)Oc1ccccc1C(=O)O' },
  { name: 'Diazepam', smiles: 'CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21' },
  { name: 'Imatinib', smiles: 'Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1' },
];

/**
 * The artifacts of chem/similarity (three references, default params) and chem/alerts (default alerts)
 * on the Lipinski example: a flow recorded with these steps keeps its fingerprints, and the step cache
 * its hits, only while these stay the same. A change of results comes with a new step version.
 */
const EXPECTED = {
  similarity: '2cc707159070863cf7699fc829a4daf1c87e4c205243b5c627de65c4ba6b3cde',
  alerts: '7aa8ce712717120f1b5dd2f51e935f54db8096c54df7ea06f44d7751dfa6e8d2',
} as const;

describe('chem/similarity and chem/alerts keep their artifact hashes on the Lipinski example', () => {
  let read: StoredArtifact[];
  beforeAll(async () => {
    read = storedOf(await runStep(readSmiles, { params: { file: 'molecules.csv' }, baseDir: EXAMPLE }));
  }, 120_000);

  for (const inputsAs of ['whole', 'batches'] as const) {
    it(`chem/similarity, input ${inputsAs}`, async () => {
      const run = await runStep(similarity, { input: read, inputsAs, params: { references: REFERENCES } });
      expect(run.stored.at(-1)).toMatchObject({ kind: 'chem/similarity', hash: EXPECTED.similarity });
    });
    it(`chem/alerts, input ${inputsAs}`, async () => {
      const run = await runStep(alerts, { input: read, inputsAs });
      expect(run.stored.at(-1)).toMatchObject({ kind: 'chem/alerts', hash: EXPECTED.alerts });
    });
  }
});
