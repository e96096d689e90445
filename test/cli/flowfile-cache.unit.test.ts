import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStepCached } from '../../src/core/definition.js';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';
import { cacheKeyFor } from '../../src/runtime/step-cache.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-cache-file-'));
  await writeFile(join(dir, 'steps.mjs'), `export const seed = { kind: 'source', version: '1', run: () => ({ outputs: [] }) };\n` +
    `export const clock = { kind: 'transform', cacheable: false, run: () => ({ outputs: [] }) };\n` +
    `export const bad = { kind: 'transform', cacheable: 'no', run: () => ({ outputs: [] }) };\n`);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(yaml: string) {
  const file = join(dir, 'flow.yaml');
  await writeFile(file, yaml);
  return loadFlowFile(file, { builtins: BUILTIN_STEPS, cwd: dir });
}

const STEPS = `steps:
  - { id: a, uses: ./steps.mjs#seed }
  - { id: b, uses: ./steps.mjs#seed, CACHE_B }
  - { id: c, uses: ./steps.mjs#clock, cache: true }
`;

describe('cache in a flow file', () => {
  it('steps inherit the flow file`s cache, a step`s own wins, cacheable: false wins over both', async () => {
    const loaded = await load(`name: f\ncache: true\n${STEPS.replace('CACHE_B', 'cache: false')}`);
    expect(loaded.definition.steps.map(isStepCached)).toEqual([true, false, false]);
    const off = await load(`name: f\n${STEPS.replace('CACHE_B', 'cache: true')}`);
    expect(off.definition.steps.map(isStepCached)).toEqual([false, true, false]);
    expect(off.definition.steps[0]?.cache).toMatchObject({ stepType: './steps.mjs#seed', enabled: false, cacheable: true });
  });

  it('leaves the definition hash as it is without any cache key', async () => {
    const plain = await load(`name: f\n${STEPS.replace(', CACHE_B', '').replace(', cache: true', '')}`);
    const cached = await load(`name: f\ncache: true\n${STEPS.replace('CACHE_B', 'cache: false')}`);
    expect(cached.definition.definitionHash).toBe(plain.definition.definitionHash);
  });

  it('refuses a cache that is not a boolean, and a module whose cacheable is not one', async () => {
    await expect(load(`name: f\ncache: yes please\nsteps:\n  - { id: a, uses: ./steps.mjs#seed }\n`)).rejects.toBeInstanceOf(FlowFileError);
    const error = await load(`name: f\nsteps:\n  - { id: a, uses: ./steps.mjs#seed }\n  - { id: b, uses: ./steps.mjs#bad }\n`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlowFileError);
    expect((error as FlowFileError).message).toMatch(/"cacheable" to be true or false/);
    const unknown = await load(`name: f\ncaching: true\nsteps:\n  - { id: a, uses: ./steps.mjs#seed }\n`).catch((e: unknown) => e);
    expect((unknown as FlowFileError).message).toMatch(/expected only name, retry, cache, steps/);
  });

  it('a module-path step`s key changes with its source file', async () => {
    const yaml = `name: f\ncache: true\nsteps:\n  - { id: a, uses: ./steps.mjs#seed }\n`;
    const before = await cacheKeyFor((await load(yaml)).definition.steps[0]!, [], { baseDir: dir });
    await writeFile(join(dir, 'steps.mjs'), `export const seed = { kind: 'source', version: '1', run: () => ({ outputs: [1] }) };\n`);
    const after = await cacheKeyFor((await load(yaml)).definition.steps[0]!, [], { baseDir: dir });
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(after).toMatch(/^[0-9a-f]{64}$/);
    expect(after).not.toBe(before);
  });

  it('chem/read-smiles keys on its file`s content; chem/report is never cached', async () => {
    await writeFile(join(dir, 'molecules.csv'), 'name,smiles\nethanol,CCO\n');
    const yaml = `name: f\ncache: true\nsteps:\n  - { id: read, uses: chem/read-smiles, params: { file: molecules.csv } }\n  - { id: report, uses: chem/report }\n`;
    const loaded = await load(yaml);
    const read = loaded.definition.steps[0]!;
    const first = await cacheKeyFor(read, [], { baseDir: dir });
    expect(await cacheKeyFor(read, [], { baseDir: dir })).toBe(first);
    await writeFile(join(dir, 'molecules.csv'), 'name,smiles\nethanol,CCO\nmethanol,CO\n');
    const changed = await cacheKeyFor(read, [], { baseDir: dir });
    expect(changed).toMatch(/^[0-9a-f]{64}$/);
    expect(changed).not.toBe(first);
    expect(isStepCached(loaded.definition.steps[1]!)).toBe(false);
    await rm(join(dir, 'molecules.csv'));
    expect(await cacheKeyFor(read, [], { baseDir: dir })).toBeNull(); // the step runs and reports the missing file
  });
});
