import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredArtifact } from '../../src/core/artifact.js';
import type { JsonObject } from '../../src/core/canonical-json.js';
import type { StepModule } from '../../src/core/definition.js';
import { descriptors } from '../../src/steps/descriptors.js';
import { lipinskiFilter } from '../../src/steps/lipinski-filter.js';
import { propertyProvider } from '../../src/steps/property-provider.js';
import { readSmiles } from '../../src/steps/read-smiles.js';
import { report } from '../../src/steps/report.js';
import { runStep, scratchDir, storedOf, type StepRun } from './support/run-step.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

/**
 * The artifacts of the chemistry steps on the Lipinski example and on the first 2,000 rows of the
 * screening library, as every earlier release of these steps wrote them: each flow recorded with
 * them keeps its fingerprints, and the step cache its hits, only while these stay the same.
 */
const EXPECTED = {
  lipinski: {
    'chem/read-smiles': [
      'chem/molecules c48bfbd9ea40abb9b0cad489c300c5156d7d859d2b08e294436018b4710a7d4a',
      'chem/rejected-rows f529fc50994c219b19a06fbe8403c63b9fc516c6a2c1ae2939796d436b24476e',
    ],
    'chem/descriptors': [
      'chem/molecules c48bfbd9ea40abb9b0cad489c300c5156d7d859d2b08e294436018b4710a7d4a',
      'chem/rejected-rows f529fc50994c219b19a06fbe8403c63b9fc516c6a2c1ae2939796d436b24476e',
      'chem/descriptors 77b5a926395801eaa9c2113562a7b0d9c154e2bdac10862c0bacc079d268a97b',
    ],
    'chem/property-provider': [
      'chem/molecules c48bfbd9ea40abb9b0cad489c300c5156d7d859d2b08e294436018b4710a7d4a',
      'chem/rejected-rows f529fc50994c219b19a06fbe8403c63b9fc516c6a2c1ae2939796d436b24476e',
      'chem/descriptors 77b5a926395801eaa9c2113562a7b0d9c154e2bdac10862c0bacc079d268a97b',
      'chem/provided-properties eee13811b7adb74c8658f78d317361997ad5a4bc378137b9a42b07e90bc917f8',
    ],
    'chem/lipinski-filter': [
      'chem/rejected-rows f529fc50994c219b19a06fbe8403c63b9fc516c6a2c1ae2939796d436b24476e',
      'chem/descriptors 77b5a926395801eaa9c2113562a7b0d9c154e2bdac10862c0bacc079d268a97b',
      'chem/provided-properties eee13811b7adb74c8658f78d317361997ad5a4bc378137b9a42b07e90bc917f8',
      'chem/molecules 3c3d2fdea59fb54a9fb99f2cfe71238493e01de5c42fceb8cbcc6e096bb96b95',
      'chem/lipinski 217b9df19b41a0660741d08ec49d16245f5960061efe74d7ff0e5a93ecfac6bc',
    ],
    'chem/report': ['chem/report 81aaa8ddb0f0e2de0231bcb1943d11439f5301c7ce90904a4c077d9fd1aabd9d'],
  },
  screening: {
    'chem/read-smiles': [
      'chem/molecules 4b28e3be953d37511361dc530bfe805153bb3a51046ae037d6e84c7fb3b98b70',
      'chem/rejected-rows bff737ef36753d0db2f53c45b9ac7320fd0e86caf3e5779abd927ab54035c799',
    ],
    'chem/descriptors': [
      'chem/molecules 4b28e3be953d37511361dc530bfe805153bb3a51046ae037d6e84c7fb3b98b70',
      'chem/rejected-rows bff737ef36753d0db2f53c45b9ac7320fd0e86caf3e5779abd927ab54035c799',
      'chem/descriptors 3bc80a94b73350727148f642e1aa08007a81a85c1d9d72fff8aee43f9c276bc0',
    ],
    'chem/property-provider': [
      'chem/molecules 4b28e3be953d37511361dc530bfe805153bb3a51046ae037d6e84c7fb3b98b70',
      'chem/rejected-rows bff737ef36753d0db2f53c45b9ac7320fd0e86caf3e5779abd927ab54035c799',
      'chem/descriptors 3bc80a94b73350727148f642e1aa08007a81a85c1d9d72fff8aee43f9c276bc0',
      'chem/provided-properties f9d7819966d1ca443e44475de004be863e97d2779ba874bc7256b71da885e8dc',
    ],
    'chem/lipinski-filter': [
      'chem/rejected-rows bff737ef36753d0db2f53c45b9ac7320fd0e86caf3e5779abd927ab54035c799',
      'chem/descriptors 3bc80a94b73350727148f642e1aa08007a81a85c1d9d72fff8aee43f9c276bc0',
      'chem/provided-properties f9d7819966d1ca443e44475de004be863e97d2779ba874bc7256b71da885e8dc',
      'chem/molecules 7f8722adc1496ee793f843c63718fa51145e1b8ebf7cabf769f2092a766ed5b9',
      'chem/lipinski 7fe52186e6ad971fa050c9dcf1593552a725fd71b32e2d645d6ef36b218901f3',
    ],
    'chem/report': ['chem/report f0c8bee505ab4a71ba2f3fa9537045536ff0ec13d5cec3e5f4f6862580b5dd62'],
  },
} as const;

/** The report's file name, which its artifact holds (`out/<name>.csv`). */
const REPORT_NAME = { lipinski: 'lip', screening: 's2000' } as const;

const STEPS: readonly [string, StepModule<JsonObject>, (name: string) => JsonObject][] = [
  ['chem/read-smiles', readSmiles, () => ({ file: 'molecules.csv' })],
  ['chem/descriptors', descriptors, () => ({ decimals: 2 })],
  ['chem/property-provider', propertyProvider, () => ({})],
  ['chem/lipinski-filter', lipinskiFilter, () => ({})],
  ['chem/report', report, (name) => ({ outDir: 'out', name: REPORT_NAME[name as keyof typeof REPORT_NAME] })],
];

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await scratchDir());
  await mkdir(join(dir, 'lipinski'));
  await copyFile(join(EXAMPLES, 'lipinski', 'molecules.csv'), join(dir, 'lipinski', 'molecules.csv'));
  await mkdir(join(dir, 'screening'));
  const library = (await readFile(join(EXAMPLES, 'screening', 'molecules.csv'), 'utf8')).split('\n');
  await writeFile(join(dir, 'screening', 'molecules.csv'), library.slice(0, 2001).join('\n') + '\n');
});
afterAll(() => remove());

/** Every step after the other, each given the outputs of the one before as the engine keeps them. */
async function pipeline(name: 'lipinski' | 'screening', inputsAs: 'whole' | 'batches'): Promise<{ hashes: Record<string, string[]>; csv: string }> {
  const baseDir = join(dir, name);
  const hashes: Record<string, string[]> = {};
  let input: StoredArtifact[] = [];
  for (const [uses, module, params] of STEPS) {
    const run: StepRun = await runStep(module, { input, inputsAs, params: params(name), baseDir });
    hashes[uses] = run.stored.map((a) => `${a.kind} ${a.hash}`);
    input = inputsAs === 'batches' ? storedOf(run) : run.artifacts;
  }
  return { hashes, csv: await readFile(join(baseDir, 'out', `${REPORT_NAME[name]}.csv`), 'utf8') };
}

describe('the chemistry steps keep every artifact hash', () => {
  for (const name of ['lipinski', 'screening'] as const)
    it(`on ${name === 'lipinski' ? 'the Lipinski example' : '2,000 molecules of the screening library'}, inputs whole or as batches`, { timeout: 300_000 }, async () => {
      const whole = await pipeline(name, 'whole');
      expect(whole.hashes).toEqual(EXPECTED[name]);
      const batches = await pipeline(name, 'batches');
      expect(batches.hashes).toEqual(EXPECTED[name]);
      expect(batches.csv).toBe(whole.csv);
    });
});
