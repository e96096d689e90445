// Once per test run, before any test file: the migrated embedded database the PGlite test stores copy
// (see pglite-template.ts), removed when the run ends.
import { PGlite } from '@electric-sql/pglite';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { openPgliteStore } from '../../src/stores/open-store.js';
import type { PgliteTemplate } from './pglite-template.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'chemflow-test-template-'));
  const made: PgliteTemplate = { dataDir: join(dir, 'db'), dump: join(dir, 'db.tar') };
  // New embedded databases (the CLI's included: child processes inherit it) copy a cluster template
  // kept here for this run, never in the user's own cache.
  process.env.CHEMFLOW_CACHE_DIR = join(dir, 'cache');
  // Created and migrated the product's way, then closed: what a fresh `--db` directory holds.
  await (await openPgliteStore(made.dataDir)).close();
  const db = new PGlite(made.dataDir);
  try {
    await db.waitReady; // dumping before it is ready never settles
    await writeFile(made.dump, Buffer.from(await (await db.dumpDataDir('none')).arrayBuffer()));
  } finally {
    await db.close();
  }
  project.provide('pgliteTemplate', made);
  return () => rm(dir, { recursive: true, force: true });
}
