// `chemflow` processes of the built CLI (bin/chemflow.js → dist/), started by the shard benchmark:
// one-off commands (migrate, submit) and long-running `chemflow worker --json` processes. Separate
// processes, because RDKit is synchronous WASM: shards in one Node process take turns on one core.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerOutcomeLine } from '../src/cli/commands/worker.js';

/** The CLI of the work tree `root`; throws when it was not built (the bench does not build it). */
export function cliPath(root: URL): string {
  if (!existsSync(fileURLToPath(new URL('dist/cli/main.js', root))))
    throw new Error('the shards benchmark runs the built CLI: run `npm run build` first');
  return fileURLToPath(new URL('bin/chemflow.js', root));
}

function spawnCli(cli: string, db: string, args: readonly string[], cwd: string): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.DATABASE_URL; // --db alone says where
  return spawn(process.execPath, [cli, '--db', db, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `chemflow --db <db> ...args` to its end; its stdout, or an error with its stderr. */
export function chemflowCommand(cli: string, db: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(cli, db, args, cwd);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`chemflow ${args.join(' ')} exited ${String(code)}: ${stderr.trim()}`)),
    );
  });
}

export interface CliWorker {
  readonly pid: number;
  /** Resolves once the worker said it started (its store is open, it is listening). */
  readonly ready: Promise<void>;
  /** Its `--json` line for this flow, once it printed one (only the flow's coordinator does). */
  outcome(flowId: string): WorkerOutcomeLine | undefined;
  /** User + system CPU seconds it used so far (Linux /proc), or undefined where there is no /proc. */
  cpuSeconds(): number | undefined;
  /** SIGTERM (it stops after its current steps), SIGKILL if still alive after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Clock ticks per second of /proc/<pid>/stat: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLOCK_TICKS = 100;

/**
 * CPU time of a live process: fields 14 and 15 (utime, stime) of /proc/<pid>/stat, counted after the
 * `)` that closes its command name (which may itself hold spaces).
 */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

export function startCliWorker(cli: string, db: string, cwd: string): CliWorker {
  const child = spawnCli(cli, db, ['worker', '--json'], cwd);
  let stdout = '';
  let stderr = '';
  let exited = false;
  const closed = new Promise<void>((resolve) =>
    child.on('close', () => {
      exited = true;
      resolve();
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('Worker ')) resolve();
    });
    void closed.then(() => reject(new Error(`chemflow worker exited before it started: ${stderr.trim()}`)));
  });
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  return {
    pid: child.pid ?? 0,
    ready,
    outcome: (flowId) =>
      // Complete lines only: a chunk may end mid-line.
      stdout
        .slice(0, stdout.lastIndexOf('\n') + 1)
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as WorkerOutcomeLine)
        .find((line) => line.flowId === flowId),
    cpuSeconds: () => (exited ? undefined : processCpuSeconds(child.pid ?? 0)),
    stop: async (graceMs = 10_000) => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
