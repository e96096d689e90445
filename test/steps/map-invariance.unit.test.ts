import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planShards, ShardMergeError, type Artifact, type StepModule } from '../../src/index.js';
import type { StoredArtifact } from '../../src/core/artifact.js';
import { mergeStoredShardOutputs } from '../../src/runtime/batch-shards.js';
import type { BlobStore } from '../../src/stores/blobs/blob-store.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';
import { descriptors } from '../../src/steps/descriptors.js';
import { lipinskiFilter } from '../../src/steps/lipinski-filter.js';
import { alerts } from '../../src/steps/alerts.js';
import { propertyProvider } from '../../src/steps/property-provider.js';
import { readSmiles } from '../../src/steps/read-smiles.js';
import { similarity } from '../../src/steps/similarity.js';
import { artifactsOf, runStep, scratchDir } from './support/run-step.js';

/** Three of the Lipinski example's drugs as references. */
const REFERENCES = [
  { name: 'aspirin', smiles: 'CC(=O)Oc1ccccc1C(=O)O' },
  { name: 'ibuprofen', smiles: 'CC(C)Cc1ccc(cc1)C(C)C(=O)O' },
  { name: 'caffeine', smiles: 'Cn1cnc2c1c(=O)n(C)c(=O)n2C' },
];

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');
const SHARD_SIZES = [1, 7, 1000] as const;

let dir: string;
let remove: () => Promise<void>;
/** chem/read-smiles' outputs (molecules, and the rejected rows every shard gets whole). */
let read: Artifact[];
beforeAll(async () => {
  ({ dir, remove } = await scratchDir());
  // The Lipinski example's 142 drugs and 2 invalid rows, and every 250th molecule of the screening library.
  const drugs = (await readFile(join(EXAMPLES, 'lipinski', 'molecules.csv'), 'utf8')).trimEnd().split('\n');
  const library = (await readFile(join(EXAMPLES, 'screening', 'molecules.csv'), 'utf8')).trimEnd().split('\n').slice(1);
  await writeFile(join(dir, 'mixed.csv'), [...drugs, ...library.filter((_, i) => i % 250 === 0)].join('\n') + '\n');
  read = artifactsOf(await runStep(readSmiles, { params: { file: 'mixed.csv' }, baseDir: dir }));
}, 120_000);
afterAll(() => remove());

/** The step on its whole input, and on shards of `shardSize` merged: the artifacts an engine would store. */
async function wholeAndSharded(module: StepModule, input: readonly Artifact[], shardSize: number, params: unknown = {}): Promise<[Artifact[], StoredArtifact[]]> {
  const whole = artifactsOf(await runStep(module, { input, params }));
  const map = { over: 'molecules', shardSize };
  const plan = planShards(input, map);
  const outputs: StoredArtifact[][] = [];
  let blobs: BlobStore | undefined;
  for (const shard of plan.shards) {
    const run = await runStep(module, { input: shard.input, params, shard });
    outputs.push(run.stored);
    blobs = run.blobs;
  }
  return [whole, await mergeStoredShardOutputs(input, map, outputs, { blobs: blobs ?? new MemoryBlobStore() })];
}

const hashes = (artifacts: readonly StoredArtifact[]): string[] => artifacts.map((a) => `${a.kind} ${a.hash}`);

describe('mapped built-in steps give the unsharded artifacts', () => {
  it('the input has molecules to split and rejected rows that every shard gets whole', () => {
    const [molecules, rejected] = read as [Artifact, Artifact];
    expect((molecules.payload as { molecules: unknown[] }).molecules.length).toBeGreaterThan(300);
    expect((rejected.payload as { rows: unknown[] }).rows).toHaveLength(2);
  });

  for (const shardSize of SHARD_SIZES)
    it(`chem/descriptors, shards of ${shardSize}`, async () => {
      const [whole, merged] = await wholeAndSharded(descriptors, read, shardSize, { decimals: 2 });
      expect(hashes(merged)).toEqual(hashes(whole));
      expect(whole.map((a) => a.kind)).toEqual(['chem/molecules', 'chem/rejected-rows', 'chem/descriptors']);
    });

  for (const shardSize of SHARD_SIZES)
    it(`chem/property-provider, shards of ${shardSize}`, async () => {
      const [whole, merged] = await wholeAndSharded(propertyProvider, read, shardSize);
      expect(hashes(merged)).toEqual(hashes(whole));
    });

  for (const shardSize of SHARD_SIZES)
    it(`chem/similarity, shards of ${shardSize}`, async () => {
      const [whole, merged] = await wholeAndSharded(similarity, read, shardSize, { references: REFERENCES });
      expect(hashes(merged)).toEqual(hashes(whole));
      expect(whole.map((a) => a.kind)).toEqual(['chem/molecules', 'chem/rejected-rows', 'chem/similarity']);
    });

  for (const shardSize of SHARD_SIZES)
    it(`chem/alerts, shards of ${shardSize}`, async () => {
      const [whole, merged] = await wholeAndSharded(alerts, read, shardSize);
      expect(hashes(merged)).toEqual(hashes(whole));
      expect(whole.map((a) => a.kind)).toEqual(['chem/molecules', 'chem/rejected-rows', 'chem/alerts']);
    });

  const streamed: [string, StepModule, unknown][] = [
    ['chem/similarity', similarity, { references: REFERENCES }],
    ['chem/alerts', alerts, {}],
  ];
  for (const [name, module, params] of streamed)
    it(`${name} gives the same hashes on its input whole and as a batch of 7-row chunks`, async () => {
      const whole = await runStep(module, { input: read, params });
      const batches = await runStep(module, { input: read, params, inputsAs: 'batches' });
      expect(hashes(batches.stored)).toEqual(hashes(whole.stored));
    });

  it('chem/lipinski-filter is not mappable: its counts of the whole batch cannot be merged', async () => {
    const described = artifactsOf(await runStep(descriptors, { input: read }));
    await expect(wholeAndSharded(lipinskiFilter, described, 7)).rejects.toThrow(ShardMergeError);
    await expect(wholeAndSharded(lipinskiFilter, described, 7)).rejects.toThrow(/output 3 \(chem\/lipinski\): field "(failed|passed)" differs between shards/);
    expect(lipinskiFilter.notMappable).toMatch(/counts the molecules that pass and fail/);
  });

  it('only the steps that summarise their batch refuse map', () => {
    const refusing = Object.entries(BUILTIN_STEPS).filter(([, module]) => module.notMappable !== undefined).map(([name]) => name);
    expect(refusing).toEqual(['chem/lipinski-filter', 'chem/report']);
  });
});

describe('the screening example flow file', () => {
  const example = join(EXAMPLES, 'screening', 'flow.yaml');

  it('maps descriptors over the real field of chem/molecules, outside the definition hash', async () => {
    const loaded = await loadFlowFile(example, { builtins: BUILTIN_STEPS });
    expect(loaded.definition.steps.map((s) => [s.id, s.map])).toEqual([
      ['read', undefined],
      ['descriptors', { over: 'molecules', shardSize: 1000 }],
      ['lipinski', undefined],
      ['report', undefined],
    ]);
    const text = await readFile(example, 'utf8');
    expect(text).toContain('    map: { over: molecules, shardSize: 1000 }\n');
    await writeFile(join(dir, 'unmapped.yaml'), text.replace('    map: { over: molecules, shardSize: 1000 }\n', ''));
    const unmapped = await loadFlowFile(join(dir, 'unmapped.yaml'), { builtins: BUILTIN_STEPS });
    expect(unmapped.definition.steps[1]?.map).toBeUndefined();
    expect(unmapped.definition.definitionHash).toBe(loaded.definition.definitionHash);
  });

  it('maps chem/read-smiles over the bytes of its file, and refuses any other map.over on it, naming bytes', async () => {
    const text = await readFile(example, 'utf8');
    const withMap = (map: string): string => text.replace('    uses: chem/read-smiles\n', `    uses: chem/read-smiles\n    map: ${map}\n`);
    await writeFile(join(dir, 'read-mapped.yaml'), withMap('{ over: bytes, shardSize: 500000 }'));
    const loaded = await loadFlowFile(join(dir, 'read-mapped.yaml'), { builtins: BUILTIN_STEPS, cwd: dir });
    expect(loaded.definition.steps[0]?.map).toEqual({ over: 'bytes', shardSize: 500000 });
    expect(loaded.definition.steps[0]?.split?.over).toBe('bytes');
    await writeFile(join(dir, 'read-molecules.yaml'), withMap('{ over: molecules, shardSize: 1000 }'));
    const error = await loadFlowFile(join(dir, 'read-molecules.yaml'), { builtins: BUILTIN_STEPS, cwd: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlowFileError);
    expect((error as FlowFileError).issues).toEqual([
      expect.objectContaining({
        problem: 'invalid_definition',
        path: 'steps[0].map',
        message: 'step "read" is a source: this source splits its own work by "bytes": map.over must be "bytes", not "molecules"',
      }),
    ]);
  });

  it('refuses, at load time, a map on chem/lipinski-filter with the reason', async () => {
    const text = (await readFile(example, 'utf8')).replace(
      '    uses: chem/lipinski-filter\n',
      '    uses: chem/lipinski-filter\n    map: { over: molecules, shardSize: 1000 }\n',
    );
    await writeFile(join(dir, 'lipinski-mapped.yaml'), text);
    const error = await loadFlowFile(join(dir, 'lipinski-mapped.yaml'), { builtins: BUILTIN_STEPS, cwd: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlowFileError);
    expect((error as FlowFileError).issues).toEqual([
      expect.objectContaining({
        problem: 'invalid_definition',
        path: 'steps[2].map',
        message:
          'step "lipinski" (chem/lipinski-filter) cannot be mapped: its chem/lipinski output counts the molecules that pass and fail in the whole batch (passed, failed)',
      }),
    ]);
  });
});
