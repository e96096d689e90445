import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import type { Artifact } from '../../src/core/artifact.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FlowEngine, MemoryFlowStore, type StepModule } from '../../src/index.js';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-flowfile-'));
  await mkdir(join(dir, 'steps'));
  await writeFile(
    join(dir, 'steps', 'seed.mjs'),
    `export default { kind: 'source', version: '1', run: (ctx) => ({ outputs: [{ kind: 'number', payload: { n: ctx.params.n } }] }) };\n` +
      `export const strict = { kind: 'source', parseParams(p) { if (typeof p.n !== 'number') throw new Error('n must be a number'); return { n: p.n }; }, run: (ctx) => ({ outputs: [{ kind: 'number', payload: { n: ctx.params.n } }] }) };\n` +
      `export const broken = { kind: 'filter', run: 3 };\n`,
  );
  await writeFile(
    join(dir, 'steps', 'double.mjs'),
    `export default { kind: 'transform', async run(ctx) { return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n * 2 } }] }; } };\n`,
  );
  await writeFile(
    join(dir, 'steps', 'triple.ts'),
    `import type { StepContext } from '../../nothing-needed';\nconst factor: number = 3;\nexport const triple = { kind: 'transform' as const, run(ctx: StepContext) { return { outputs: [{ kind: 'number', payload: { n: (ctx as any).input[0].payload.n * factor } }] }; } };\n`,
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function flowFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function problemsOf(file: string, builtins: Record<string, StepModule> = {}): Promise<FlowFileError> {
  const error = await loadFlowFile(file, { builtins, cwd: dir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FlowFileError);
  return error as FlowFileError;
}

const DEMO = `name: demo
retry: { maxRetries: 3, backoff: { kind: exponential, baseMs: 10 } }
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: { n: 1 } }
  - { id: double, uses: ./steps/double.mjs, retry: { maxRetries: 5 }, timeoutMs: 5000 }
  - { id: triple, uses: ./steps/triple.ts#triple }
`;

describe('loadFlowFile', () => {
  it('binds a flow file: modules relative to the file, .ts through tsx, policies merged', async () => {
    const loaded = await loadFlowFile(await flowFile('flow.yaml', DEMO), { cwd: '/' });
    expect(loaded.baseDir).toBe(dir);
    expect(loaded.file).toBe(join(dir, 'flow.yaml'));
    expect(loaded.definition.name).toBe('demo');
    expect(loaded.definition.steps.map((s) => [s.id, s.kind, s.version])).toEqual([
      ['seed', 'source', '1'],
      ['double', 'transform', undefined],
      ['triple', 'transform', undefined],
    ]);
    expect(loaded.retryPolicy).toEqual({ maxRetries: 3, backoff: { kind: 'exponential', baseMs: 10 }, retryOn: ['Transient'] });
    const double = loaded.definition.steps[1];
    expect(double?.retry).toEqual({ maxRetries: 5, backoff: { kind: 'exponential', baseMs: 10 }, retryOn: ['Transient'] });
    expect(double?.timeoutMs).toBe(5000);
    expect(loaded.definition.steps[0]?.retry).toBeUndefined();

    const store = new MemoryFlowStore();
    const engine = new FlowEngine({ store, retryPolicy: loaded.retryPolicy, baseDir: loaded.baseDir });
    const flowId = await engine.startFlow(loaded.definition);
    const flow = await engine.runToEnd(flowId, loaded.definition);
    expect(flow.status).toBe('completed');
    const last = await store.getArtifacts(flow.steps[2]?.outputs ?? []);
    expect((last[0] as Artifact | undefined)?.payload).toEqual({ n: 6 });
  });

  it('reads JSON flow files and built-in step types', async () => {
    const builtin: StepModule = { kind: 'source', run: () => ({ outputs: [{ kind: 'x', payload: 1 }] }) };
    const file = await flowFile('flow.json', JSON.stringify({ name: 'j', steps: [{ id: 'a', uses: 'test/source' }] }));
    const loaded = await loadFlowFile(file, { builtins: { 'test/source': builtin } });
    expect(loaded.definition.steps[0]?.kind).toBe('source');
    expect(loaded.retryPolicy.maxRetries).toBe(3);
  });

  it('reports YAML syntax errors with file, line and column', async () => {
    const error = await problemsOf(await flowFile('bad.yaml', 'name: x\nsteps:\n  - { id: a, uses: ./steps/seed.mjs\n'));
    expect(error.problem).toBe('syntax');
    expect(error.message).toMatch(/^bad\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('reports JSON syntax errors', async () => {
    const error = await problemsOf(await flowFile('bad.json', '{"name": "x", "steps": [}'));
    expect(error.problem).toBe('syntax');
    expect(error.message).toMatch(/^bad\.json:1:\d+: invalid JSON/);
  });

  it('names the path inside the file and what was expected, for every schema problem at once', async () => {
    const file = await flowFile(
      'flow.yaml',
      `name: demo
retry: { maxRetries: -1, backoff: { kind: linear } }
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: [1] }
  - { id: double, use: ./steps/double.mjs, retry: { maxRetries: 1.5, retryOn: [Sometimes] } }
`,
    );
    const error = await problemsOf(file);
    expect(error.problem).toBe('schema');
    const byPath = Object.fromEntries(error.issues.map((i) => [i.path, i.message]));
    expect(byPath['retry.maxRetries']).toBe('expected a number >= 0, got -1');
    expect(byPath['retry.backoff.kind']).toBe('expected one of "none", "exponential", got "linear"');
    expect(byPath['steps[0].params']).toBe('expected a mapping, got a list');
    expect(byPath['steps[1].uses']).toBe('is required (expected a string): a step type or module path, or give `command` to run a program');
    expect(byPath['steps[1]']).toBe('unknown key "use"; expected only id, uses, command, needs, inputs, when, outputs, exitCodes, script, env, params, retry, timeoutMs, map, resources, cache');
    expect(byPath['steps[1].retry.maxRetries']).toBe('expected an integer, got 1.5');
    expect(byPath['steps[1].retry.retryOn[0]']).toMatch(/^expected one of "Transient", "Permanent", "Validation", "Runtime", got "Sometimes"$/);
    expect(error.message).toContain('flow.yaml:2:22: retry.maxRetries: expected a number >= 0, got -1');
  });

  it('reads onFailure (stop or continue) and names the field when its value is neither', async () => {
    const body = (value: string) => `name: demo\nonFailure: ${value}\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n`;
    const error = await problemsOf(await flowFile('bad-on-failure.yaml', body('skip')));
    expect(error.problem).toBe('schema');
    expect(error.message).toBe('bad-on-failure.yaml:2:12: onFailure: expected one of "stop", "continue", got "skip"');
    const plain = await loadFlowFile(await flowFile('plain.yaml', 'name: demo\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n'));
    const stop = await loadFlowFile(await flowFile('stop.yaml', body('stop')));
    const going = await loadFlowFile(await flowFile('continue.yaml', body('continue')));
    expect([plain.definition.onFailure, stop.definition.onFailure, going.definition.onFailure]).toEqual(['stop', 'stop', 'continue']);
    expect(stop.definition.definitionHash).toBe(plain.definition.definitionHash);
    expect(going.definition.definitionHash).not.toBe(plain.definition.definitionHash);
  });

  it('rejects a document that is not a mapping, and a flow without steps', async () => {
    expect((await problemsOf(await flowFile('a.yaml', '- 1\n'))).message).toBe('a.yaml:1:1: expected a mapping, got a list');
    expect((await problemsOf(await flowFile('b.yaml', 'name: x\nsteps: []\n'))).message).toBe(
      'b.yaml:2:8: steps: expected at least 1 item(s)',
    );
    expect((await problemsOf(await flowFile('c.txt', 'name: x\n'))).problem).toBe('unreadable');
    expect((await problemsOf(join(dir, 'missing.yaml'))).message).toBe('missing.yaml: file not found');
  });

  it('reports an unknown step type with the known ones', async () => {
    const error = await problemsOf(await flowFile('f.yaml', 'name: x\nsteps:\n  - { id: a, uses: chem/nope }\n'), {
      'chem/read-smiles': { kind: 'source', run: () => ({ outputs: [] }) },
    });
    expect(error.problem).toBe('unknown_step_type');
    expect(error.message).toBe(
      'f.yaml:3:20: steps[0].uses: unknown step type "chem/nope"; expected one of chem/read-smiles, or a module path starting with ./, ../ or /',
    );
  });

  it('names the absolute file a module path would load when a file name lacks its leading ./', async () => {
    const error = await problemsOf(await flowFile('f.yaml', 'name: x\nsteps:\n  - { id: a, uses: steps/seed.mjs#strict }\n'));
    expect(error.problem).toBe('unknown_step_type');
    expect(error.issues[0]?.message).toBe(
      `unknown step type "steps/seed.mjs#strict"; expected one of (no built-in steps), or a module path starting with ./, ../ or /; as a module path: "./steps/seed.mjs#strict", the file ${join(dir, 'steps', 'seed.mjs')}`,
    );
  });

  it('loads a module named by its absolute path', async () => {
    const loaded = await loadFlowFile(await flowFile('f.yaml', `name: x\nsteps:\n  - { id: a, uses: ${join(dir, 'steps', 'seed.mjs')} }\n`), { cwd: '/' });
    expect(loaded.definition.steps.map((s) => s.kind)).toEqual(['source']);
  });

  it('reports a missing module, a missing export and a module of the wrong shape', async () => {
    const file = await flowFile(
      'f.yaml',
      `name: x
steps:
  - { id: a, uses: ./steps/nope.mjs }
  - { id: b, uses: ./steps/seed.mjs#nothing }
  - { id: c, uses: ./steps/seed.mjs#broken }
  - { id: d, uses: ./steps/double.mjs#double }
`,
    );
    const error = await problemsOf(file);
    expect(error.issues.map((i) => [i.problem, i.path])).toEqual([
      ['module_not_found', 'steps[0].uses'],
      ['export_not_found', 'steps[1].uses'],
      ['invalid_module', 'steps[2].uses'],
      ['export_not_found', 'steps[3].uses'],
    ]);
    expect(error.issues[0]?.message).toBe(`module not found: ${join(dir, 'steps', 'nope.mjs')}`);
    expect(error.issues[1]?.message).toBe('module ./steps/seed.mjs has no export named "nothing"; it exports broken, default, strict');
    expect(error.issues[2]?.message).toBe(
      `./steps/seed.mjs#broken is not a step module: expected "kind" to be one of 'source', 'transform', 'sink', 'check', got "filter"`,
    );
    expect(error.issues[3]?.message).toBe('module ./steps/double.mjs has no export named "double"; it exports default');
  });

  it("turns a module's parseParams failure into a params problem", async () => {
    const error = await problemsOf(await flowFile('f.yaml', 'name: x\nsteps:\n  - { id: a, uses: ./steps/seed.mjs#strict, params: { n: two } }\n'));
    expect(error.problem).toBe('invalid_params');
    expect(error.message).toBe('f.yaml:3:53: steps[0].params: invalid params: n must be a number');
  });

  it('keeps the path of zod issues thrown by parseParams', async () => {
    await writeFile(
      join(dir, 'steps', 'zodded.mjs'),
      `export default { kind: 'source', parseParams(p) { const e = new Error('bad'); e.issues = [{ code: 'invalid_type', expected: 'number', path: ['limits', 'max'], message: 'x', input: 'lots' }]; throw e; }, run: () => ({ outputs: [] }) };\n`,
    );
    const error = await problemsOf(await flowFile('f.yaml', 'name: x\nsteps:\n  - id: a\n    uses: ./steps/zodded.mjs\n    params: { limits: { max: lots } }\n'));
    expect(error.issues[0]?.path).toBe('steps[0].params.limits.max');
    expect(error.issues[0]?.message).toBe('expected a number, got "lots"');
    expect(error.issues[0]?.line).toBe(5);
  });

  it("reports an unknown param from a zod strictObject in parseParams without naming the flow file's keys", async () => {
    const error = await problemsOf(await flowFile('f.yaml', 'name: x\nsteps:\n  - { id: a, uses: strict/zod, params: { fiel: 1 } }\n'), {
      'strict/zod': { kind: 'source', parseParams: (p: unknown) => z.strictObject({ field: z.number().optional() }).parse(p), run: () => ({ outputs: [] }) },
    });
    expect(error.issues[0]?.path).toBe('steps[0].params');
    expect(error.issues[0]?.message).toBe('unknown key "fiel"');
  });

  it('reports duplicate step ids at the second one, and definition rules from defineFlow', async () => {
    const dup = await problemsOf(
      await flowFile('d.yaml', 'name: x\nsteps:\n  - { id: a, uses: ./steps/seed.mjs }\n  - { id: a, uses: ./steps/double.mjs }\n'),
    );
    expect(dup.problem).toBe('invalid_definition');
    expect(dup.message).toBe('d.yaml:4:11: steps[1].id: duplicate step id "a" (already used by steps[0])');

    const notSource = await problemsOf(await flowFile('s.yaml', 'name: x\nsteps:\n  - { id: a, uses: ./steps/double.mjs }\n'));
    expect(notSource.problem).toBe('invalid_definition');
    expect(notSource.message).toContain('steps: The first step "a" must be a source, not a transform');
  });

  it('rejects invalid step ids and non-JSON params', async () => {
    const error = await problemsOf(
      await flowFile('i.yaml', 'name: x\nsteps:\n  - { id: "has space", uses: ./steps/seed.mjs, params: { n: .nan } }\n'),
    );
    expect(error.issues[0]?.path).toBe('steps[0].id');
    expect(error.issues[0]?.message).toMatch(/^expected a step id of letters/);
    const nan = await problemsOf(await flowFile('n.yaml', 'name: x\nsteps:\n  - { id: a, uses: ./steps/seed.mjs, params: { n: .nan } }\n'));
    expect(nan.issues[0]?.path).toBe('steps[0].params');
    expect(nan.issues[0]?.message).toMatch(/^expected plain JSON values: Value at \$\.n cannot be hashed/);
  });

  it('rejects a flow name or params holding text the database cannot store (U+0000, lone surrogates)', async () => {
    const name = await problemsOf(await flowFile('z.json', '{"name": "bad\\u0000name", "steps": [{"id": "a", "uses": "./steps/seed.mjs"}]}'));
    expect(name.issues).toEqual([
      expect.objectContaining({ path: 'name', message: 'the name contains U+0000, which PostgreSQL cannot store', line: 1 }),
    ]);
    const params = await problemsOf(
      await flowFile('p.yaml', 'name: x\nsteps:\n  - { id: a, uses: ./steps/seed.mjs, params: { n: 1, label: "x\\ud800" } }\n'),
    );
    expect(params.issues).toEqual([
      expect.objectContaining({
        path: 'steps[0].params',
        problem: 'invalid_params',
        message: 'expected text that can be stored: Value at $.label cannot be stored: it contains a lone UTF-16 surrogate (U+D800), which PostgreSQL cannot store',
      }),
    ]);
    const nul = await problemsOf(await flowFile('q.yaml', 'name: x\nsteps:\n  - { id: a, uses: ./steps/seed.mjs, params: { n: 1, "k\\0": 2 } }\n'));
    expect(nul.issues[0]?.message).toMatch(/its key contains U\+0000/);
  });

  describe('map', () => {
    const mapped = (map: string): string =>
      `name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - id: double\n    uses: ./steps/double.mjs\n    map: ${map}\n`;

    it('puts a valid map on the step definition, outside the definition hash', async () => {
      const plain = await loadFlowFile(await flowFile('plain.yaml', 'name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: double, uses: ./steps/double.mjs }\n'));
      const small = await loadFlowFile(await flowFile('small.yaml', mapped('{ over: molecules, shardSize: 2 }')));
      const large = await loadFlowFile(await flowFile('large.yaml', mapped('{ over: molecules, shardSize: 1000 }')));
      expect(small.definition.steps[1]?.map).toEqual({ over: 'molecules', shardSize: 2 });
      expect(large.definition.steps[1]?.map).toEqual({ over: 'molecules', shardSize: 1000 });
      expect(plain.definition.steps[1]?.map).toBeUndefined();
      expect(small.definition.definitionHash).toBe(plain.definition.definitionHash);
      expect(large.definition.definitionHash).toBe(plain.definition.definitionHash);
    });

    it('rejects a malformed map at its line, naming the file, the step and what was expected', async () => {
      const cases: [string, string][] = [
        ['{ over: molecules, shardSize: 0 }', 'm.yaml:6:40: steps[1].map.shardSize: expected a number >= 1, got 0'],
        ['{ over: molecules, shardSize: 2.5 }', 'm.yaml:6:40: steps[1].map.shardSize: expected an integer, got 2.5'],
        ['{ over: molecules }', 'm.yaml:6:10: steps[1].map.shardSize: is required (expected a number)'],
        ['{ over: "", shardSize: 10 }', 'm.yaml:6:18: steps[1].map.over: expected a non-empty string'],
        ['{ over: [molecules], shardSize: 10 }', 'm.yaml:6:18: steps[1].map.over: expected a string, got a list'],
        ['molecules', 'm.yaml:6:10: steps[1].map: expected a mapping, got "molecules"'],
        ['{ over: molecules, shardSize: 10, parallel: true }', 'm.yaml:6:10: steps[1].map: unknown key "parallel"; expected only over, shardSize'],
      ];
      for (const [map, message] of cases) {
        const error = await problemsOf(await flowFile('m.yaml', mapped(map)));
        expect(error.problem, map).toBe('schema');
        expect(error.message, map).toBe(message);
      }
    });

    it("rejects a map on a step whose module declares it notMappable, with the module's reason", async () => {
      const counting: StepModule = { kind: 'transform', notMappable: 'it counts its whole batch', run: () => ({ outputs: [] }) };
      const error = await problemsOf(
        await flowFile('c.yaml', 'name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - id: count\n    uses: test/count\n    map: { over: n, shardSize: 2 }\n'),
        { 'test/count': counting },
      );
      expect(error.message).toBe('c.yaml:6:10: steps[1].map: step "count" (test/count) cannot be mapped: it counts its whole batch');
      const unmapped = await loadFlowFile(await flowFile('u.yaml', 'name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: count, uses: test/count }\n'), {
        builtins: { 'test/count': counting },
      });
      expect(unmapped.definition.steps[1]?.id).toBe('count');
      const bad = await problemsOf(await flowFile('b.yaml', 'name: x\nsteps:\n  - { id: seed, uses: test/bad }\n'), {
        'test/bad': { kind: 'source', notMappable: true, run: () => ({ outputs: [] }) } as unknown as StepModule,
      });
      expect(bad.message).toBe('b.yaml:3:23: steps[0].uses: test/bad is not a step module: expected "notMappable" to be a string (the reason) when present, got boolean');
    });

    it('rejects a map on a source step, which has no input to split', async () => {
      const error = await problemsOf(
        await flowFile('s.yaml', 'name: x\nsteps:\n  - id: seed\n    uses: ./steps/seed.mjs\n    map: { over: n, shardSize: 1 }\n'),
      );
      expect(error.problem).toBe('invalid_definition');
      expect(error.message).toBe('s.yaml:5:10: steps[0].map: step "seed" is a source: it has no input to split into shards');
    });
  });
});
