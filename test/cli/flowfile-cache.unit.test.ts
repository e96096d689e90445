import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isWholeArtifact } from '../../src/core/artifact.js';
import { isStepCached } from '../../src/core/definition.js';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';
import { cacheKeyFor } from '../../src/runtime/step-cache.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';
import { createTestSchema, pgAvailable } from '../helpers/pg.js';
import { runWithCache } from '../support/cache-flows.js';

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
    expect((unknown as FlowFileError).message).toMatch(/expected only name, retry, cache, onFailure, steps/);
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

describe('the cache key of a module-path step', () => {
  const CALC = `import { factor } from './lib.mjs';
export default {
  kind: 'source',
  run: () => ({ outputs: [{ kind: 'number', payload: { n: 6 * factor() } }] }),
};
`;
  const lib = (factor: number) => `import { one } from './util/one.cjs';\nexport const factor = () => ${factor} * one;\n`;
  const FLOW = `name: calc\ncache: true\nsteps:\n  - { id: calc, uses: ./steps/calc.mjs }\n`;

  /** A project directory: flow.yaml, steps/calc.mjs, steps/lib.mjs, steps/util/one.cjs (and node_modules). */
  async function project(name: string, files: Record<string, string>): Promise<string> {
    const root = join(dir, name);
    for (const [path, text] of Object.entries({ 'flow.yaml': FLOW, 'steps/calc.mjs': CALC, 'steps/util/one.cjs': 'module.exports = { one: 1 };\n', ...files })) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), text);
    }
    return root;
  }
  const loadProject = (root: string) => loadFlowFile(join(root, 'flow.yaml'), { builtins: BUILTIN_STEPS, cwd: root });
  const keyOf = async (root: string) => cacheKeyFor((await loadProject(root)).definition.steps[0]!, [], { baseDir: root });

  it('follows the project files the module imports, recursively, and not the packages', async () => {
    const a = await project('a', { 'steps/lib.mjs': lib(7) });
    const same = await project('same', { 'steps/lib.mjs': lib(7) });
    const b = await project('b', { 'steps/lib.mjs': lib(8) });
    const nested = await project('nested', { 'steps/lib.mjs': lib(7), 'steps/util/one.cjs': 'module.exports = { one: 2 };\n' });
    expect(await keyOf(same)).toBe(await keyOf(a)); // the same code in another directory shares the entry
    expect(await keyOf(b)).not.toBe(await keyOf(a));
    expect(await keyOf(nested)).not.toBe(await keyOf(a));
    // A package in node_modules is not part of the key.
    const pkg = (version: string) => ({
      'steps/lib.mjs': `import 'dep';\n${lib(7)}`,
      'node_modules/dep/package.json': `{ "name": "dep", "version": "${version}", "type": "module", "exports": "./index.js" }`,
      'node_modules/dep/index.js': `export const version = '${version}';\n`,
    });
    expect(await keyOf(await project('dep1', pkg('1.0.0')))).toBe(await keyOf(await project('dep2', pkg('2.0.0'))));
    // The definition hash, and so every fingerprint, does not depend on the code.
    expect((await loadProject(b)).definition.definitionHash).toBe((await loadProject(a)).definition.definitionHash);
  });

  it('follows a literal dynamic import and TypeScript imports', async () => {
    const dynamic = (factor: number) => ({
      'steps/calc.mjs': `export default { kind: 'source', async run() { const { factor } = await import('./lib.ts'); return { outputs: [{ kind: 'number', payload: { n: factor() } }] }; } };\n`,
      'steps/lib.ts': `import { base } from './base.js';\nexport const factor = (): number => base * ${factor};\n`,
      'steps/base.ts': 'export const base: number = 1;\n',
    });
    expect(await keyOf(await project('ts1', dynamic(1)))).not.toBe(await keyOf(await project('ts2', dynamic(2))));
  });

  it.runIf(pgAvailable)('two projects with the same module and different helpers in one database never share an entry', async () => {
    const a = await project('a', { 'steps/lib.mjs': lib(7) });
    const b = await project('b', { 'steps/lib.mjs': lib(8) });
    const schema = await createTestSchema('closure_cache');
    const store = await schema.openStore();
    try {
      const loadedA = await loadProject(a);
      const first = await runWithCache(store, loadedA.definition, loadedA.baseDir);
      const loadedB = await loadProject(b);
      const second = await runWithCache(store, loadedB.definition, loadedB.baseDir);
      expect(second.steps[0]?.cachedFrom).toBeNull();
      const outputs = await store.getArtifacts([first, second].map((f) => f.steps[0]!.outputs[0]!));
      expect(outputs.map((o) => (isWholeArtifact(o) ? o.payload : null))).toEqual([{ n: 42 }, { n: 48 }]);
      // The same project again is taken from the cache.
      const again = await runWithCache(store, loadedA.definition, loadedA.baseDir);
      expect(again.steps[0]?.cachedFrom).toEqual({ flowId: first.id, stepId: 'calc' });
    } finally {
      await store.close();
      await schema.drop();
    }
  });
});
