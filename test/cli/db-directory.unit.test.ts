// Where the embedded database may be created, in process (`main` with buffered streams): only by the
// commands that start work, only in a new or empty directory, never among other files.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

let project: string;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env: {}, cwd: project };
  const code = await main(['node', 'chemflow', ...args], io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'chemflow-db-dir-'));
  await writeFile(join(project, 'flow.yaml'), 'name: one\nsteps:\n  - { id: seed, uses: ./seed.mjs }\n');
  await writeFile(join(project, 'seed.mjs'), "export default { kind: 'source', run: () => ({ outputs: [] }) };\n");
});
afterAll(() => rm(project, { recursive: true, force: true }));

describe('the embedded database directory', () => {
  it('a command that reads or changes existing flows never creates one: exit 2 naming the path, with what to do', async () => {
    const typo = join(project, '.chemflwo');
    const id = randomUUID();
    for (const args of [
      ['flows'],
      ['status', id],
      ['events', id],
      ['errors', id],
      ['retry', id, 'seed'],
      ['cancel', id],
      ['resume', id],
      ['queue', 'rebuild'],
      ['cache', 'stats'],
      ['cache', 'prune', '--all'],
      ['migrate', 'down', '--yes'],
    ]) {
      const result = await cli('--db', typo, ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `Error: No chemflow database at ${typo}: the directory does not exist. Nothing was created.\n` +
          'Next: check --db / DATABASE_URL (a relative path starts from the working directory); `chemflow run`, `submit`, `worker` and `migrate` create a new database in a new or empty directory.\n',
      );
      expect(existsSync(typo), args.join(' ')).toBe(false);
    }
  });

  it('is never created among other files (`--db .` in a project), not even by the commands that create one', async () => {
    const before = (await readdir(project)).sort();
    for (const args of [['run', 'flow.yaml'], ['submit', 'flow.yaml'], ['worker', '--once'], ['migrate'], ['flows']]) {
      const result = await cli('--db', project, ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(
        new RegExp(`^Error: ${project.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a chemflow database: it holds other files \\(flow\\.yaml, seed\\.mjs\\); an embedded database is only created in a new or empty directory\\. Nothing was created\\.\nNext: give --db a new or empty directory`),
      );
      expect((await readdir(project)).sort(), args.join(' ')).toEqual(before);
    }
    const file = await cli('--db', join(project, 'flow.yaml'), 'flows');
    expect(file.code).toBe(2);
    expect(file.stderr).toContain(`${join(project, 'flow.yaml')} is a file, not a directory for the embedded database.`);
  });
});
