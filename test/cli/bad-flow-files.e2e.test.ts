import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_TIMEOUT_MS, ensureBuilt, workspace, type Workspace } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

/** Each bad flow file: exit 2, a message naming the file, the place and what was expected; nothing written. */
const CASES: { name: string; file: string; text: string | Buffer; message: string | RegExp }[] = [
  {
    name: 'YAML syntax error',
    file: 'syntax.yaml',
    text: 'name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs\n',
    message: /^syntax\.yaml:4:1: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }$/m,
  },
  {
    name: 'unknown step type',
    file: 'unknown.yaml',
    text: 'name: x\nsteps:\n  - { id: seed, uses: chem/does-not-exist }\n',
    message: /^unknown\.yaml:3:23: steps\[0\]\.uses: unknown step type "chem\/does-not-exist"; expected one of .*or a module path starting with \.\/, \.\.\/ or \/$/m,
  },
  {
    name: 'bad params',
    file: 'params.yaml',
    text: 'name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs, params: [1, 2] }\n',
    message: 'params.yaml:3:49: steps[0].params: expected a mapping, got a list',
  },
  {
    name: "params rejected by the module's parseParams",
    file: 'parse-params.yaml',
    text: 'name: x\nsteps:\n  - { id: seed, uses: ./steps/checked.mjs, params: { n: two } }\n',
    message: 'parse-params.yaml:3:52: steps[0].params: invalid params: n must be a number, got "two"',
  },
  {
    name: 'bad retry policy',
    file: 'retry.yaml',
    text: 'name: x\nsteps:\n  - id: seed\n    uses: ./steps/seed.mjs\n    retry: { maxRetries: -2 }\n',
    message: 'retry.yaml:5:26: steps[0].retry.maxRetries: expected a number >= 0, got -2',
  },
  {
    name: 'bad onFailure',
    file: 'on-failure.yaml',
    text: 'name: x\nonFailure: skip\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n',
    message: 'on-failure.yaml:2:12: onFailure: expected one of "stop", "continue", got "skip"',
  },
  {
    name: 'duplicate ids',
    file: 'dup.yaml',
    text: 'name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: seed, uses: ./steps/double.mjs }\n',
    message: 'dup.yaml:4:11: steps[1].id: duplicate step id "seed" (already used by steps[0])',
  },
  {
    name: 'missing module',
    file: 'missing.yaml',
    text: 'name: x\nsteps:\n  - { id: seed, uses: ./steps/nowhere.mjs }\n',
    message: /^missing\.yaml:3:23: steps\[0\]\.uses: module not found: .*steps\/nowhere\.mjs$/m,
  },
  {
    name: 'missing export',
    file: 'export.yaml',
    text: 'name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - { id: more, uses: "./steps/flaky.mjs#flakey" }\n',
    message: 'export.yaml:4:23: steps[1].uses: module ./steps/flaky.mjs has no export named "flakey"; it exports flaky',
  },
  {
    name: 'JSON with an unknown key',
    file: 'typo.json',
    text: '{"name": "x", "steps": [{"id": "seed", "uses": "./steps/seed.mjs", "parms": {}}]}',
    message: 'typo.json:1:25: steps[0]: unknown key "parms"; expected only id, uses, command, needs, inputs, when, outputs, exitCodes, script, env, params, retry, timeoutMs, map, resources, cache',
  },
  {
    name: 'malformed map',
    file: 'map.yaml',
    text: 'name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n  - id: double\n    uses: ./steps/double.mjs\n    map: { over: n, shardSize: 0 }\n',
    message: 'map.yaml:6:32: steps[1].map.shardSize: expected a number >= 1, got 0',
  },
  {
    name: 'map on a source step',
    file: 'map-source.yaml',
    text: 'name: x\nsteps:\n  - id: seed\n    uses: ./steps/seed.mjs\n    map: { over: n, shardSize: 10 }\n',
    message: 'map-source.yaml:5:10: steps[0].map: step "seed" is a source: it has no input to split into shards',
  },
  {
    name: 'aliases expanding into a billion values',
    file: 'laughs.yaml',
    text: `name: x\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n${[...'bcdefghi']
      .map((k, i) => `${k}: &${k} [${Array<string>(9).fill(`*${'abcdefgh'[i] ?? ''}`).join(', ')}]`)
      .join('\n')}\n`,
    message: /^laughs\.yaml:8:8: alias \*d makes the aliases expand into more than 10000 values /m,
  },
  {
    name: 'Latin-1 bytes',
    file: 'latin1.yaml',
    text: Buffer.concat([Buffer.from('name: caf'), Buffer.from([0xe9]), Buffer.from('\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n')]),
    message: /^latin1\.yaml:1:10: not valid UTF-8: byte E9 at byte offset 9 /m,
  },
];

describe('bad flow files', { timeout: E2E_TIMEOUT_MS }, () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
  });
  afterAll(() => ws.remove());

  for (const c of CASES)
    it(`${c.name}: exit 2, a precise message, nothing written`, async () => {
      await writeFile(join(ws.dir, c.file), c.text);
      const result = await ws.cli('run', c.file);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      if (typeof c.message === 'string') expect(result.stderr.split('\n')).toContain(c.message);
      else expect(result.stderr).toMatch(c.message);
      expect(result.stderr).toContain('Nothing was written.');
      expect(result.stderr).toMatch(/^Next: fix the flow file and run the command again\.$/m);
    });

  it('no flow was recorded by any of them', async () => {
    expect(existsSync(ws.db)).toBe(false); // the database was never even opened
    expect((await ws.cli('flows')).stderr).toContain(`No chemflow database at ${ws.db}: the directory does not exist`);
  });

  it('a missing flow file exits 2', async () => {
    const result = await ws.cli('run', 'nowhere.yaml');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nowhere.yaml: file not found');
  });
});
