import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreError } from '../../core/errors.js';

// Run by a separate Node process: PGlite's initdb grows its WebAssembly memory to about 0.9 GB, and a
// WebAssembly memory never shrinks, so a cluster created in the process that then runs the flow would
// carry that peak for the whole run (an existing cluster opens at about 0.2 GB).
const CREATE_SCRIPT = `
const [dataDir] = process.argv.slice(1);
const { PGlite } = await import('@electric-sql/pglite');
const db = await PGlite.create(dataDir);
await db.close();
`;

/** True when `dataDir` holds no PostgreSQL cluster yet (PGlite would run initdb there). */
export function needsCluster(dataDir: string): boolean {
  return !existsSync(join(dataDir, 'PG_VERSION'));
}

/**
 * Creates PGlite's cluster in `dataDir` in a short-lived child process, so that this process never pays
 * initdb's memory peak. A failure throws `StoreError` with the child's last words.
 */
export async function createClusterInChild(dataDir: string): Promise<void> {
  // Run beside this module, so that the child finds the same PGlite package this process uses.
  const child = spawn(process.execPath, ['--input-type=module', '-e', CREATE_SCRIPT, resolve(dataDir)], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-2000);
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).catch((error: unknown) => {
    throw new StoreError('creating the embedded database', `could not start ${process.execPath}`, { cause: error, failure: 'configuration' });
  });
  if (exit.code !== 0) {
    const how = exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
    throw new StoreError('creating the embedded database', `the process creating ${dataDir} ended with ${how}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`, {
      failure: 'refused',
    });
  }
}
