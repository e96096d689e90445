// The embedded database every PGlite test store starts from. A fresh database costs initdb (in WASM)
// plus the migrations: 2.4 s on a quiet machine and ~7 s on a loaded one, paid per test by the engine
// suites. Instead the test run makes one migrated database with `openPgliteStore` (the global setup,
// `test/support/global-setup.ts`), and each test store starts as a copy of it: the same data directory
// a fresh database has once migrated, and opening it still migrates up (a no-op). The stores' own
// creation (initdb, marker, migrations) keeps its tests, which open databases the product's way.
import { cp, readFile } from 'node:fs/promises';
import { inject } from 'vitest';
import { openPgliteStore, type OpenStoreOptions } from '../../src/stores/open-store.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';
import { FsBlobStore } from '../../src/stores/blobs/fs-blob-store.js';
import { PgliteExecutor } from '../../src/stores/pglite/pglite-executor.js';
import { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';

/** Where the global setup put the template: a data directory and its dump. */
export interface PgliteTemplate {
  /** The closed data directory of a migrated database (with chemflow's marker file). */
  dataDir: string;
  /** The same database as `PGlite.dumpDataDir('none')` writes it. */
  dump: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: PgliteTemplate | null;
  }
}

/** The template of this test run, or null when the suite runs without the global setup. */
function template(): PgliteTemplate | null {
  try {
    return inject('pgliteTemplate') ?? null;
  } catch {
    return null;
  }
}

/**
 * An in-memory PGlite store, as `openPgliteStore(undefined, options)` opens it, started from the
 * template (falls back to a fresh database without one).
 */
export async function templatePgliteStore(options: Pick<OpenStoreOptions, 'blobDir'> = {}): Promise<SqlFlowStore> {
  const made = template();
  if (made === null) return openPgliteStore(undefined, options);
  const dump = new Blob([await readFile(made.dump)]);
  const blobs = options.blobDir === undefined ? new MemoryBlobStore() : new FsBlobStore(options.blobDir);
  return SqlFlowStore.open(await PgliteExecutor.open(undefined, dump), blobs);
}

/**
 * A directory-backed PGlite store in `dataDir` (which must not exist yet), as `openPgliteStore(dataDir)`
 * creates it, started as a copy of the template's data directory.
 */
export async function templatePgliteDirectory(dataDir: string): Promise<void> {
  const made = template();
  if (made === null) {
    await (await openPgliteStore(dataDir)).close();
    return;
  }
  await cp(made.dataDir, dataDir, { recursive: true, errorOnExist: true, force: false });
}
