import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreDirectoryError } from '../../core/errors.js';

/** Written into a directory when chemflow creates its embedded database there: the directory is chemflow's. */
export const STORE_MARKER = 'chemflow-store.json';

const MARKER_TEXT = `${JSON.stringify({
  kind: 'chemflow-store',
  about: 'An embedded chemflow database (PGlite, a PostgreSQL data directory). Deleting this directory deletes the database.',
})}\n`;

/**
 * Checks that `dir` may hold the embedded database before PGlite touches it, since PGlite creates a
 * whole PostgreSQL cluster in any directory it is given (`--db .` would put one among the user's files).
 * Accepted: a directory chemflow created (its marker file), a PGlite cluster without the marker (created
 * by an earlier chemflow: recognised by PostgreSQL's own files), and — only when `create` — a directory
 * that does not exist yet or is empty, which gets the marker before the cluster is created.
 * Anything else throws `StoreDirectoryError`, and nothing is written.
 */
export function claimDataDir(dir: string, options: { create: boolean }): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new StoreDirectoryError(dir, 'not_a_directory');
    if (code !== 'ENOENT') throw error;
    if (!options.create) throw new StoreDirectoryError(dir, 'missing');
    mkdirSync(dir, { recursive: true });
    entries = [];
  }
  if (entries.includes(STORE_MARKER) || isPostgresCluster(dir, entries)) return;
  if (entries.length > 0) throw new StoreDirectoryError(dir, 'not_a_store', entries.sort().slice(0, 5));
  // Empty: chemflow's only when it may create a database here (a read-only command finds none).
  if (!options.create) throw new StoreDirectoryError(dir, 'empty');
  writeFileSync(join(dir, STORE_MARKER), MARKER_TEXT);
}

/** PostgreSQL's own layout: `PG_VERSION` and the `base` and `global` directories. */
function isPostgresCluster(dir: string, entries: readonly string[]): boolean {
  if (!entries.includes('PG_VERSION') || !entries.includes('base') || !entries.includes('global')) return false;
  try {
    return statSync(join(dir, 'PG_VERSION')).isFile() && statSync(join(dir, 'base')).isDirectory();
  } catch {
    return false;
  }
}
