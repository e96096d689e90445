import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';
import { MAX_ALIAS_EXPANSION, MAX_DEPTH } from '../../src/flowfile/read-document.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-flowfile-text-'));
  await writeFile(join(dir, 'seed.mjs'), "export default { kind: 'source', run: () => ({ outputs: [] }) };\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const VALID = 'name: x\nsteps:\n  - { id: seed, uses: ./seed.mjs }\n';

async function problemOf(name: string, content: string | Buffer): Promise<FlowFileError> {
  await writeFile(join(dir, name), content);
  const error = await loadFlowFile(name, { cwd: dir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FlowFileError);
  return error as FlowFileError;
}

describe('flow file text the loader refuses', () => {
  it('nesting deeper than the limit, at the line and column where it passes the limit (100,000 levels, as flow and block collections)', async () => {
    const levels = 100_000;
    const flow = await problemOf('deep-flow.yaml', `name: x\nsteps: ${'['.repeat(levels)}${']'.repeat(levels)}\n`);
    expect(flow.problem).toBe('too_complex');
    // The root mapping is the first level, so the limit is passed at the 100th bracket, column 7 + 100.
    expect(flow.message).toBe(`deep-flow.yaml:2:${7 + MAX_DEPTH}: nested more than ${MAX_DEPTH} levels deep (lists and mappings inside each other); a flow file needs far fewer`);

    const block = await problemOf('deep-block.yaml', `name: x\nsteps:\n  ${'- '.repeat(levels)}x\n`);
    expect(block.problem).toBe('too_complex');
    expect(block.message).toMatch(new RegExp(`^deep-block\\.yaml:3:\\d+: nested more than ${MAX_DEPTH} levels deep`));

    const json = await problemOf('deep.json', `{"name": "x", "steps": ${'['.repeat(levels)}${']'.repeat(levels)}}`);
    expect(json.message).toMatch(new RegExp(`^deep\\.json:1:\\d+: nested more than ${MAX_DEPTH} levels deep`));
  });

  it('accepts nesting up to the limit', async () => {
    const nested = `${'{ a: '.repeat(MAX_DEPTH - 4)}1${' }'.repeat(MAX_DEPTH - 4)}`;
    const text = `name: x\nsteps:\n  - id: seed\n    uses: ./seed.mjs\n    params: ${nested}\n`;
    await writeFile(join(dir, 'nested.yaml'), text);
    await expect(loadFlowFile('nested.yaml', { cwd: dir })).resolves.toMatchObject({ definition: { name: 'x' } });
  });

  it('a billion-laughs document, at the alias where the expansion passes the limit', async () => {
    const lines = ['name: x', 'steps:', '  - { id: seed, uses: ./seed.mjs }', 'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    let previous = 'a';
    for (const anchor of 'bcdefghi') {
      lines.push(`${anchor}: &${anchor} [${Array<string>(9).fill(`*${previous}`).join(', ')}]`);
      previous = anchor;
    }
    const error = await problemOf('laughs.yaml', `${lines.join('\n')}\n`);
    expect(error.problem).toBe('too_complex');
    // Added by aliases: b 9 × 10, c 9 × 91, d 9 × 820 (8,289 in all); e's first *d adds 7,381 and passes 10,000.
    expect(error.message).toBe(
      `laughs.yaml:8:8: alias *d makes the aliases expand into more than ${MAX_ALIAS_EXPANSION} values (aliases inside anchored values multiply); write the values out or use fewer nested aliases`,
    );
  });

  it('accepts ordinary anchors and aliases', async () => {
    const file = 'name: x\nsteps:\n  - { id: seed, uses: ./seed.mjs, params: &p { n: 3, tags: [a, b] } }\n  - { id: again, uses: ./seed.mjs, params: *p }\n';
    await writeFile(join(dir, 'aliases.yaml'), file);
    const loaded = await loadFlowFile('aliases.yaml', { cwd: dir });
    expect(loaded.definition.steps[1]?.baseParams).toEqual({ n: 3, tags: ['a', 'b'] });
  });

  it('Latin-1 bytes, naming the byte, its offset, line and column', async () => {
    const bytes = Buffer.concat([Buffer.from('name: x\nsteps:\n  - { id: caf'), Buffer.from([0xe9]), Buffer.from(', uses: ./seed.mjs }\n')]);
    const error = await problemOf('latin1.yaml', bytes);
    expect(error.problem).toBe('syntax');
    expect(error.message).toBe(
      'latin1.yaml:3:14: not valid UTF-8: byte E9 at byte offset 28 (Latin-1 or another legacy encoding?); flow files must be UTF-8: save it as UTF-8',
    );
  });

  it('a truncated or overlong UTF-8 sequence, its column counted in the decoded text before it, as the other messages count', async () => {
    const truncated = Buffer.concat([Buffer.from('name: "é→𝄞'), Buffer.from([0xe2, 0x82]), Buffer.from('"\nsteps: []\n')]);
    expect((await problemOf('truncated.yaml', truncated)).message).toMatch(/^truncated\.yaml:1:12: not valid UTF-8: byte E2 at byte offset 16 /);
    const overlong = Buffer.concat([Buffer.from('name: '), Buffer.from([0xc0, 0xaf]), Buffer.from('\nsteps: []\n')]);
    expect((await problemOf('overlong.yaml', overlong)).message).toMatch(/^overlong\.yaml:1:7: not valid UTF-8: byte C0 at byte offset 6 /);
  });

  it('a UTF-16 file, either byte order, saying it is UTF-16', async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(VALID, 'utf16le')]);
    const be = Buffer.from(VALID, 'utf16le').swap16();
    for (const [name, bytes, order] of [
      ['le.yaml', le, 'little-endian, byte order mark FF FE'],
      ['be.yaml', Buffer.concat([Buffer.from([0xfe, 0xff]), be]), 'big-endian, byte order mark FE FF'],
    ] as const) {
      const error = await problemOf(name, bytes);
      expect(error.problem).toBe('syntax');
      expect(error.message).toBe(`${name}:1:1: the file is UTF-16 (${order}); flow files must be UTF-8: save it as UTF-8`);
    }
  });

  it('reads UTF-8 with or without a byte order mark', async () => {
    await writeFile(join(dir, 'bom.yaml'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(VALID.replace('x', 'café'))]));
    expect((await loadFlowFile('bom.yaml', { cwd: dir })).definition.name).toBe('café');
  });
});
