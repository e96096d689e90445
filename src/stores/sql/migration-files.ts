import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Migration {
  /** The folder name, e.g. `0001_event_log`; migrations apply in this order. */
  id: string;
  up: string;
  down: string;
}

const MIGRATION_FOLDER = /^\d{4}_[a-z0-9_]+$/;

/**
 * The package's `migrations/` folder. This module runs from `src/` (vitest, tsx) and from `dist/`
 * (after the build), at different depths, so walk up to the package root instead of assuming one.
 */
export function migrationsDirectory(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return join(dir, 'migrations');
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No migrations folder above ${from}`);
    dir = parent;
  }
}

/** Every migration, ordered by id; each folder holds an `up.sql` and a `down.sql`. */
export function loadMigrations(directory: string = migrationsDirectory()): Migration[] {
  return readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && MIGRATION_FOLDER.test(entry.name))
    .map((entry) => entry.name)
    .sort()
    .map((id) => ({
      id,
      up: readFileSync(join(directory, id, 'up.sql'), 'utf8'),
      down: readFileSync(join(directory, id, 'down.sql'), 'utf8'),
    }));
}
