import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chemflow, ensureBuilt } from './support/cli.js';

beforeAll(ensureBuilt, 180_000);

describe('a --db URL of another scheme than postgres:// or postgresql://', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chemflow-dburl-'));
    await writeFile(join(dir, 'flow.yaml'), 'name: one\nsteps:\n  - { id: seed, uses: ./seed.mjs }\n');
    await writeFile(join(dir, 'seed.mjs'), "export default { kind: 'source', run: () => ({ outputs: [] }) };\n");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const cases: [string, string[]][] = [
    ['postgress://user:secret@127.0.0.1:5432/test', ['run', 'flow.yaml']],
    ['mysql://user:secret@localhost/db', ['flows']],
    ['postgress://127.0.0.1/test', ['submit', 'flow.yaml']],
    ['file:///tmp/chemflow-db', ['migrate']],
  ];

  it.each(cases)('%s (%s) exits 2 listing the accepted forms, and creates nothing', async (url, args) => {
    const before = await readdir(dir);
    const result = await chemflow(['--db', url, ...args], { cwd: dir, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/unsupported database URL scheme "[a-z]+:\/\/"/);
    expect(result.stderr).toContain('postgres://');
    expect(result.stderr).toContain('postgresql://');
    expect(result.stderr).toContain('"memory"');
    expect(result.stderr).not.toContain('secret');
    expect(result.stdout).toBe('');
    expect(await readdir(dir)).toEqual(before);
  }, 60_000);

  it('`--db .` in a project directory exits 2 and creates no database among its files; a mistyped directory is not created by `flows`', async () => {
    const before = await readdir(dir);
    const here = await chemflow(['--db', '.', 'run', 'flow.yaml'], { cwd: dir, timeoutMs: 60_000 });
    expect(here.code, here.stderr).toBe(2);
    expect(here.stderr).toMatch(/^Error: \. is not a chemflow database: it holds other files \(flow\.yaml, seed\.mjs\).* Nothing was created\.$/m);
    expect(here.stderr).toMatch(/^Next: give --db a new or empty directory/m);
    const typo = await chemflow(['--db', '.chemflwo', 'flows'], { cwd: dir, timeoutMs: 60_000 });
    expect(typo.code, typo.stderr).toBe(2);
    expect(typo.stderr).toContain(`No chemflow database at .chemflwo: the directory does not exist (${join(dir, '.chemflwo')}).`);
    expect(await readdir(dir)).toEqual(before);
  }, 60_000);

  it('from DATABASE_URL too', async () => {
    const before = await readdir(dir);
    const result = await chemflow(['flows'], { cwd: dir, env: { DATABASE_URL: 'postgress://127.0.0.1/test' }, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^Error: DATABASE_URL: unsupported database URL scheme "postgress:\/\/"/m);
    expect(await readdir(dir)).toEqual(before);
  }, 60_000);
});
