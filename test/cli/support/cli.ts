import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'chemflow.js');
const ENTRY = join(ROOT, 'dist', 'cli', 'main.js');
// Outside the checkout: `dist/` holds the build and nothing else.
const CHECKOUT_KEY = createHash('sha256').update(ROOT).digest('hex').slice(0, 16);
const STAMP = join(tmpdir(), `chemflow-e2e-build-${CHECKOUT_KEY}.stamp`);
const LOCK = join(tmpdir(), `chemflow-e2e-build-${CHECKOUT_KEY}.lock`);

/**
 * The time budget of one e2e test, sized for a loaded 2-core machine: a CLI call takes 0.6 s quiet and
 * ~2 s loaded, a fresh embedded database 2.4 s quiet and ~7 s loaded; at a load average of 16 on two
 * cores a five-call test took 63 s. A hung process is still caught sooner, by each call's kill timer.
 */
export const E2E_TIMEOUT_MS = 240_000;

export { waitUntil } from '../../support/wait-until.js';

/**
 * Builds `dist/` once for all e2e files running in parallel: a directory lock serialises them, and a
 * stamp newer than every source file lets the later ones skip the build.
 */
export async function ensureBuilt(): Promise<void> {
  await acquireLock();
  try {
    if (await isFresh()) return;
    await promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: ROOT }).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`npm run build failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
    await writeFile(STAMP, new Date().toISOString());
  } finally {
    await rmdir(LOCK).catch(() => undefined);
  }
}

async function isFresh(): Promise<boolean> {
  const built = await stat(STAMP).then((s) => s.mtimeMs, () => 0);
  return built > 0 && existsSync(ENTRY) && (await newestMtime(join(ROOT, 'src'))) < built;
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(path) : (await stat(path)).mtimeMs);
  }
  return newest;
}

async function acquireLock(): Promise<void> {
  for (let waited = 0; ; waited += 200) {
    try {
      await mkdir(LOCK);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (await stat(LOCK).then((s) => s.mtimeMs, () => Date.now()));
      if (age > 180_000) await rmdir(LOCK).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/chemflow.js ...args` in `cwd`, never through a terminal. */
export function chemflow(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function spawnCli(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env };
  delete env.DATABASE_URL;
  if (options.env?.DATABASE_URL !== undefined) env.DATABASE_URL = options.env.DATABASE_URL;
  return spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A scratch directory with its own database (`db/`) and plain-JavaScript step modules (`steps/`). */
export interface Workspace {
  dir: string;
  db: string;
  /** `chemflow --db <db> ...args` run in the workspace. */
  cli(...args: string[]): Promise<CliResult>;
  json<T = unknown>(...args: string[]): Promise<T>;
  write(path: string, text: string): Promise<string>;
  remove(): Promise<void>;
}

export async function workspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'chemflow-cli-'));
  const db = join(dir, 'db');
  const write = async (path: string, text: string): Promise<string> => {
    const file = join(dir, path);
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, text);
    return file;
  };
  for (const [name, text] of Object.entries(STEP_MODULES)) await write(join('steps', name), text);
  const cli = (...args: string[]): Promise<CliResult> => chemflow(['--db', db, ...args], { cwd: dir });
  return {
    dir,
    db,
    cli,
    async json<T>(...args: string[]): Promise<T> {
      const result = await cli(...args, '--json');
      try {
        return JSON.parse(result.stdout) as T;
      } catch {
        throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
      }
    },
    write,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * A copy of `examples/lipinski` (every file but its `out/`) in `ws/lipinski`: a run writes its reports
 * beside the flow file, so running the example in place would write into the checkout. Returns the
 * copied flow file.
 */
export async function copyLipinskiExample(ws: Workspace): Promise<string> {
  const example = join(ROOT, 'examples', 'lipinski');
  const target = join(ws.dir, 'lipinski');
  await mkdir(target, { recursive: true });
  for (const entry of await readdir(example, { withFileTypes: true }))
    if (entry.isFile()) await copyFile(join(example, entry.name), join(target, entry.name));
  return join(target, 'flow.yaml');
}

/** seed → slow (waits for release.marker, to be killed or stopped mid-attempt) → double. */
export const SLOW_FLOW = `name: slow
retry: { maxRetries: 2, backoff: { kind: none } }
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: { n: 7 } }
  - { id: slow, uses: ./steps/slow.mjs }
  - { id: double, uses: ./steps/double.mjs }
`;

/** Step modules that import nothing from chemflow: the public step module contract. */
const STEP_MODULES: Record<string, string> = {
  'seed.mjs': `export default {
  kind: 'source',
  version: '1',
  run: (ctx) => ({ outputs: [{ kind: 'number', payload: { n: ctx.params.n ?? 1 } }] }),
};
`,
  'double.mjs': `export default {
  kind: 'transform',
  async run(ctx) {
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n * 2 } }] };
  },
};
`,
  // Validates its params before any run: bad params are a flow file error.
  'checked.mjs': `export default {
  kind: 'source',
  parseParams(params) {
    if (typeof params.n !== 'number') throw new Error('n must be a number, got ' + JSON.stringify(params.n));
    return { n: params.n };
  },
  run: (ctx) => ({ outputs: [{ kind: 'number', payload: { n: ctx.params.n } }] }),
};
`,
  // Fails Transient on its first attempt: retried automatically.
  'flaky.mjs': `export const flaky = {
  kind: 'transform',
  run(ctx) {
    if (ctx.attempt === 1) {
      const error = new Error('upstream busy');
      error.errorClass = 'Transient';
      error.code = 'BUSY';
      throw error;
    }
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n + 1 } }] };
  },
};
`,
  // Fails Permanent until the file open.marker exists next to the flow file.
  'gate.mjs': `import { existsSync } from 'node:fs';
import { join } from 'node:path';
export default {
  kind: 'check',
  run(ctx) {
    if (!existsSync(join(ctx.baseDir, 'open.marker'))) {
      const error = new Error('the gate is closed: open.marker is missing');
      error.errorClass = 'Permanent';
      error.details = { marker: 'open.marker', attempt: ctx.attempt };
      throw error;
    }
    return { outputs: ctx.input.map((a) => ({ kind: a.kind, payload: a.payload })) };
  },
};
`,
  // Writes started.marker, then waits until release.marker exists (to be killed mid-attempt).
  'slow.mjs': `import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  kind: 'transform',
  async run(ctx) {
    writeFileSync(join(ctx.baseDir, 'started.marker'), String(ctx.attempt));
    while (!existsSync(join(ctx.baseDir, 'release.marker'))) await new Promise((r) => setTimeout(r, 50));
    return { outputs: [{ kind: 'number', payload: { n: ctx.input[0].payload.n } }] };
  },
};
`,
};
