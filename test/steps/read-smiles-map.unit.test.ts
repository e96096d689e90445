// chem/read-smiles mapped over its file's bytes: the parts cover every record once, and the combined
// outputs are the whole read's, hash for hash, with the duplicate rule and the rejected rows exact.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredArtifact } from '../../src/core/artifact.js';
import { DEFAULT_CHUNK_LIMITS } from '../../src/core/chunk.js';
import { defineFlow, defineStep, type StepModule } from '../../src/core/definition.js';
import { FlowEngine } from '../../src/runtime/engine.js';
import { MemoryFlowStore } from '../../src/stores/memory-store.js';
import { descriptors } from '../../src/steps/descriptors.js';
import { mergeStoredShardOutputs } from '../../src/runtime/batch-shards.js';
import type { MoleculeSet, RejectedRows } from '../../src/steps/chem-artifacts.js';
import { CsvParser, parseCsv, type CsvRecord } from '../../src/steps/csv.js';
import { csvPart } from '../../src/steps/csv-split.js';
import { readSmiles, type ReadSmilesParams } from '../../src/steps/read-smiles.js';
import { KNOWN } from './support/molecules.js';
import { outputOf, runStep, scratchDir } from './support/run-step.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'screening', 'molecules.csv');

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => ({ dir, remove } = await scratchDir()));
afterAll(() => remove());

/** The records of `[start, end)` of a file's text, parsed from there as a shard parses its part. */
function partRecords(bytes: Buffer, part: { start: number; end: number; line: number }): CsvRecord[] {
  if (part.end <= part.start) return [];
  const parser = new CsvParser({ line: part.line });
  return [...parser.push(bytes.subarray(part.start, part.end).toString('utf8')), ...parser.end()];
}

async function partsOf(path: string, count: number): Promise<CsvRecord[]> {
  const bytes = await readFile(path);
  const records: CsvRecord[] = [];
  for (let k = 0; k < count; k++) records.push(...partRecords(bytes, await csvPart(path, bytes.length, k, count)));
  return records;
}

/** The whole read, and the mapped one: every shard's `run`, the one shard merge, then `combine`. */
async function wholeAndMapped(file: string, shardSize: number, params: Partial<ReadSmilesParams> = {}) {
  const all = { file, ...params };
  const whole = await runStep(readSmiles, { params: all, baseDir: dir });
  const size = (await stat(join(dir, file))).size;
  const count = Math.max(1, Math.ceil(size / shardSize));
  const perShard: StoredArtifact[][] = [];
  for (let index = 0; index < count; index++) perShard.push((await runStep(readSmiles, { params: all, baseDir: dir, shard: { index, count } })).stored);
  const merged = await mergeStoredShardOutputs([], { over: 'bytes', shardSize }, perShard, { blobs: whole.blobs }, { splitsItself: true });
  const split = readSmiles.split;
  if (split === undefined) throw new Error('chem/read-smiles declares no split');
  const combining: StepModule<ReadSmilesParams> = { kind: 'source', parseParams: readSmiles.parseParams, streaming: true, run: (ctx) => split.combine(ctx) };
  const mapped = await runStep(combining, { params: all, baseDir: dir, input: merged, blobs: whole.blobs });
  return { whole, mapped, count };
}

const hashes = (run: { stored: readonly StoredArtifact[] }): string[] => run.stored.map((a) => `${a.kind} ${a.hash}`);

describe('the parts of a CSV file', () => {
  it('cover every record of the screening example once, in order, with its line, for any number of parts', async () => {
    const whole = parseCsv(await readFile(EXAMPLE, 'utf8'));
    for (const count of [1, 2, 3, 7, 57]) expect(await partsOf(EXAMPLE, count)).toEqual(whole);
  });

  it('property: cut where quotes, quoted line breaks, CRLF, blank lines and a byte order mark are', async () => {
    const field = fc.oneof(fc.constantFrom('', 'a', 'C1CC1', '"q"', 'x"y', 'a,b', 'two\nlines', 'cr\r\nlf', ' ', 'é"ü', '""'), fc.string({ maxLength: 4 }));
    const quote = (s: string, always: boolean): string => (always || /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.array(fc.tuple(field, fc.boolean()), { minLength: 1, maxLength: 3 }), fc.constantFrom('\n', '\r\n', '\n\n')), { maxLength: 12 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 40 }),
        async (rows, bom, count) => {
          const text = (bom ? '\uFEFF' : '') + rows.map(([fields, end]) => fields.map(([f, q]) => quote(f, q)).join(',') + end).join('');
          const path = join(dir, 'property.csv');
          await writeFile(path, text);
          expect(await partsOf(path, count)).toEqual(parseCsv(text));
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('chem/read-smiles mapped over bytes', () => {
  it('gives the whole read\'s outputs on a file with duplicates and bad rows across part boundaries, for any shard size', async () => {
    const rows = [
      ['Aspirin', KNOWN.aspirin.smiles],
      ['Broken', 'C1CC('],
      ['Caffeine', KNOWN.caffeine.smiles],
      ['Aspirin again', 'OC(=O)c1ccccc1OC(C)=O'], // the same molecule written differently
      ['"Quoted, name"', KNOWN.naproxen.smiles],
      ['Caffeine again', KNOWN.caffeine.smiles],
      ['Empty', ''],
      ['Ibuprofen', KNOWN.ibuprofen.smiles],
      ['Aspirin thrice', KNOWN.aspirin.smiles],
      ['Pentavalent', 'CC(C)(C)(C)(C)C'],
      ['Paracetamol', KNOWN.paracetamol.smiles],
      ['Ibuprofen again', 'CC(C)Cc1ccc(C(C)C(=O)O)cc1'],
    ];
    await writeFile(join(dir, 'duplicates.csv'), ['name,smiles', ...rows.map(([n, s]) => `${n},${s}`), ''].join('\r\n'));
    const size = (await stat(join(dir, 'duplicates.csv'))).size;
    for (const shardSize of [1, 7, 40, 100, size - 1, size, 1_000_000]) {
      const { whole, mapped, count } = await wholeAndMapped('duplicates.csv', shardSize);
      expect({ shardSize, count, hashes: hashes(mapped) }).toEqual({ shardSize, count, hashes: hashes(whole) });
      expect(mapped.signals).toEqual(whole.signals);
    }
    const { mapped } = await wholeAndMapped('duplicates.csv', 40);
    expect(outputOf<MoleculeSet>(mapped, 'chem/molecules').molecules.map((m) => m.line)).toEqual([2, 4, 6, 9, 12]);
    expect(outputOf<RejectedRows>(mapped, 'chem/rejected-rows').rows.map((r) => [r.line, r.smiles, r.reason.replace(/:.*/, '')])).toEqual([
      [3, 'C1CC(', 'SMILES Parse Error'],
      [5, 'OC(=O)c1ccccc1OC(C)=O', `same molecule (InChIKey ${KNOWN.aspirin.inchikey}) as line 2`],
      [7, KNOWN.caffeine.smiles, `same molecule (InChIKey ${KNOWN.caffeine.inchikey}) as line 4`],
      [8, '', 'empty SMILES'],
      [10, KNOWN.aspirin.smiles, `same molecule (InChIKey ${KNOWN.aspirin.inchikey}) as line 2`],
      [11, 'CC(C)(C)(C)(C)C', expect.stringMatching(/^Explicit valence/) as unknown as string],
      [13, 'CC(C)Cc1ccc(C(C)C(=O)O)cc1', `same molecule (InChIKey ${KNOWN.ibuprofen.inchikey}) as line 9`],
    ]);
  }, 120_000);

  it('fails as the whole read does on a file without the column, and on one without a molecule', async () => {
    await writeFile(join(dir, 'no-column.csv'), 'name,structure\nA,CCO\n');
    const shard = { index: 1, count: 2 };
    await expect(runStep(readSmiles, { params: { file: 'no-column.csv' }, baseDir: dir, shard })).rejects.toMatchObject({ code: 'MISSING_COLUMN' });
    await writeFile(join(dir, 'nothing.csv'), 'name,smiles\nA,C1CC(\nB,\n');
    await expect(wholeAndMapped('nothing.csv', 10)).rejects.toMatchObject({ code: 'NO_MOLECULES' });
    await writeFile(join(dir, 'empty.csv'), '');
    await expect(runStep(readSmiles, { params: { file: 'empty.csv' }, baseDir: dir, shard: { index: 0, count: 1 } })).rejects.toMatchObject({ code: 'EMPTY_INPUT' });
  });

  it('gives the whole read\'s hashes on the screening example\'s first 8,000 molecules (3 shards)', async () => {
    // The whole example (56,694 molecules) read twice takes minutes of RDKit: its first rows show the same.
    const lines = (await readFile(EXAMPLE, 'utf8')).split('\n').slice(0, 8_001);
    await writeFile(join(dir, 'screening.csv'), lines.join('\n') + '\n');
    const size = (await stat(join(dir, 'screening.csv'))).size;
    const { whole, mapped, count } = await wholeAndMapped('screening.csv', Math.ceil(size / 3));
    expect(count).toBe(3);
    expect(hashes(mapped)).toEqual(hashes(whole));
    expect(outputOf<MoleculeSet>(whole, 'chem/molecules').molecules).toHaveLength(8_000);
  }, 300_000);
});

describe('a flow whose chem/read-smiles is mapped', () => {
  it('runs its shards through the engine (1 and 2 at a time) and ends with the unmapped flow\'s fingerprints', async () => {
    const lines = (await readFile(EXAMPLE, 'utf8')).trimEnd().split('\n');
    // Every 400th molecule of the example, then a few of them again: duplicates far from their first row.
    const picked = lines.slice(1).filter((_, i) => i % 400 === 0);
    await writeFile(join(dir, 'flow.csv'), [lines[0], ...picked, ...picked.slice(0, 20), 'bad,C1CC('].join('\n') + '\n');
    const size = (await stat(join(dir, 'flow.csv'))).size;
    const run = async (map: { over: string; shardSize: number } | undefined, concurrency: number) => {
      const definition = defineFlow('mapped-read', [
        defineStep('read', readSmiles, { file: 'flow.csv' }, map === undefined ? {} : { map }),
        defineStep('descriptors', descriptors, { decimals: 2 }),
      ]);
      const engine = new FlowEngine({ store: new MemoryFlowStore(), baseDir: dir, concurrency, chunkLimits: { maxRows: 50, maxBytes: DEFAULT_CHUNK_LIMITS.maxBytes } });
      const flow = await engine.runToEnd(await engine.startFlow(definition), definition);
      return { completed: flow.status === 'completed', fingerprint: flow.flowFingerprint, steps: flow.steps.map((s) => [s.stepId, s.fingerprint, s.outputs, s.shards?.length ?? null]) };
    };
    const unmapped = await run(undefined, 1);
    expect(unmapped.completed).toBe(true);
    for (const [shardSize, concurrency] of [[Math.ceil(size / 5), 2], [997, 1]] as const) {
      const mapped = await run({ over: 'bytes', shardSize }, concurrency);
      const shards = Math.ceil(size / shardSize);
      expect(mapped).toEqual({ ...unmapped, steps: unmapped.steps.map((s, i) => (i === 0 ? [...s.slice(0, 3), shards] : s)) });
    }
  }, 300_000);

  it('refuses a map over anything but bytes, and a map on a source that does not split itself, naming why', () => {
    expect(() => defineFlow('f', [defineStep('read', readSmiles, { file: 'x.csv' }, { map: { over: 'molecules', shardSize: 10 } })])).toThrow(
      'Step "read" has an invalid map: this source splits its own work by "bytes": map.over must be "bytes", not "molecules"',
    );
    const plain: StepModule = { kind: 'source', run: () => ({ outputs: [] }) };
    expect(() => defineFlow('f', [defineStep('read', plain, {}, { map: { over: 'bytes', shardSize: 10 } })])).toThrow('a source step has no input to split into shards');
  });
});
