import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createClusterInChild, needsCluster } from './create-cluster.js';

// PGlite's initdb (in WebAssembly) takes 2–4 s on a quiet machine, longer than many flows; copying the
// 40 MB a fresh cluster holds takes a fraction of a second. So the first new embedded database made with
// a given PGlite build is created by initdb into a per-user cache, and every later one is a copy of it.
// A cluster is plain files, and a fresh one holds nothing of chemflow's: the copy is what initdb would
// have written (only PostgreSQL's system identifier is shared, which a standalone cluster never uses).

/**
 * Where the cluster template lives: `CHEMFLOW_CACHE_DIR`, else `$XDG_CACHE_HOME/chemflow`, else
 * `~/.cache/chemflow`. Deleting it is always safe: the next new database makes it again.
 */
export function clusterCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHEMFLOW_CACHE_DIR) return env.CHEMFLOW_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'chemflow');
  return join(homedir(), '.cache', 'chemflow');
}

/** The installed PGlite's version: a template is only ever used by the build that made it. */
async function pgliteVersion(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  let dir = dirname(entry);
  for (;;) {
    try {
      const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === '@electric-sql/pglite' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // Not this directory's manifest: look further up.
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json of @electric-sql/pglite above ${entry}`);
    dir = parent;
  }
}

/** The template's directory for this PGlite build, made (once, by initdb in a child) when missing. */
export async function clusterTemplate(cacheDir: string): Promise<string> {
  const template = join(cacheDir, 'pglite', `cluster-${await pgliteVersion()}`);
  if (!needsCluster(template)) return template;
  // Made under a name of its own and renamed into place: a reader never sees half a cluster, and two
  // processes making it at once both succeed (the second rename finds the first one's and gives way).
  const making = `${template}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(making, { recursive: true });
  try {
    await createClusterInChild(making);
    await rename(making, template).catch((error: unknown) => {
      if (needsCluster(template)) throw error;
    });
  } finally {
    await rm(making, { recursive: true, force: true });
  }
  return template;
}

/**
 * Creates PGlite's cluster in `dataDir` (which holds no cluster yet) as a copy of the cached template;
 * when the cache cannot be written, by initdb in a child process directly (`createClusterInChild`).
 */
export async function createCluster(dataDir: string, cacheDir: string = clusterCacheDir()): Promise<void> {
  let template: string;
  try {
    await mkdir(cacheDir, { recursive: true });
    if (!(await stat(cacheDir)).isDirectory()) throw new Error(`${cacheDir} is not a directory`);
    template = await clusterTemplate(cacheDir);
  } catch {
    // A read-only home or a full disk must not stop a flow: pay initdb in place instead.
    await createClusterInChild(dataDir);
    return;
  }
  await cp(template, dataDir, { recursive: true, force: false, errorOnExist: true });
}
