import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreDirectoryError } from '../../src/core/errors.js';
import { migrateStore, openPgliteStore, openStore, previewMigrateDown } from '../../src/stores/open-store.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-data-dir-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function refusal(open: () => Promise<unknown>): Promise<StoreDirectoryError> {
  const error = await open().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreDirectoryError);
  return error as StoreDirectoryError;
}

describe('the directory of an embedded store', () => {
  it('is never created by a caller that only reads, nor by migrate down', async () => {
    const missing = join(dir, 'typo', 'db');
    for (const open of [() => openStore(missing, { create: false }), () => openPgliteStore(missing, { create: false }), () => migrateStore(missing, 'down')]) {
      const error = await refusal(open);
      expect(error.problem).toBe('missing');
      expect(error.message).toBe(`No chemflow database at ${missing}: the directory does not exist`);
    }
    expect(await previewMigrateDown(missing)).toEqual({ migrations: [], tables: [] });
    expect(existsSync(join(dir, 'typo'))).toBe(false);

    const empty = join(dir, 'empty');
    await mkdir(empty);
    expect((await refusal(() => openStore(empty, { create: false }))).problem).toBe('empty');
    expect(await previewMigrateDown(empty)).toEqual({ migrations: [], tables: [] });
    expect(await readdir(empty)).toEqual([]);
  });

  it("is refused, whoever asks, when it holds files that are not a database (`--db .` in a project), and nothing is written there", async () => {
    const project = join(dir, 'project');
    await mkdir(join(project, 'steps'), { recursive: true });
    await writeFile(join(project, 'flow.yaml'), 'name: x\n');
    for (const open of [() => openStore(project), () => openPgliteStore(project), () => migrateStore(project, 'up'), () => previewMigrateDown(project)]) {
      const error = await refusal(open);
      expect(error.problem).toBe('not_a_store');
      expect(error.message).toBe(
        `${project} is not a chemflow database: it holds other files (flow.yaml, steps); an embedded database is only created in a new or empty directory`,
      );
    }
    expect((await readdir(project)).sort()).toEqual(['flow.yaml', 'steps']);

    const file = join(project, 'flow.yaml');
    expect((await refusal(() => openStore(file))).problem).toBe('not_a_directory');
  });
});
