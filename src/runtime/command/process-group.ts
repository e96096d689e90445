import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { CommandExit } from '../../core/command-exit.js';
import { DEFAULT_STOP_GRACE_MS } from '../step-threads.js';

export interface SpawnGroupOptions {
  argv: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Files the command's stdout and stderr are written to (directly: no byte passes through this process). */
  stdoutPath: string;
  stderrPath: string;
  /** Aborting stops the group: SIGTERM, then SIGKILL after `graceMs`. */
  signal: AbortSignal;
  graceMs?: number;
}

export interface GroupRun {
  /** The process group id (the leader's pid). Undefined when the program could not be started. */
  pid: number | undefined;
  /** How the leader ended, once the group is gone or killed. */
  exit: CommandExit;
  /** Why the group was stopped (`signal`'s reason, or the worker's shutdown); null when it ended by itself. */
  stopped: Error | null;
}

/** Every process group this process started and has not yet seen end: killed when it leaves. */
const live = new Map<number, { stop: (reason: Error) => void }>();

/** The attempt's command was stopped because the worker running it shuts down: another worker retries it. */
export class WorkerShutdownError extends Error {
  readonly errorClass = 'Transient' as const;
  readonly code = 'WORKER_SHUTDOWN';
}
let exitHookInstalled = false;

/**
 * Runs a program in a process group of its own (`detached`), so that what it starts (a shell's
 * children, an MPI launcher's ranks) is stopped with it: SIGTERM to the whole group when `signal`
 * aborts, SIGKILL after the grace period for whatever ignored it. Processes of the group still alive
 * once the leader exited by itself are killed too: nothing a step started outlives its attempt. The
 * group is also killed (SIGKILL, the only thing possible then) if this process exits meanwhile.
 */
export function runProcessGroup(options: SpawnGroupOptions): Promise<GroupRun> {
  installExitHook();
  const graceMs = options.graceMs ?? DEFAULT_STOP_GRACE_MS;
  const [program, ...args] = options.argv;
  if (program === undefined) return Promise.resolve({ pid: undefined, exit: { spawnError: 'EMPTY_COMMAND' }, stopped: null });
  const out = openSync(options.stdoutPath, 'w');
  const err = openSync(options.stderrPath, 'w');
  return new Promise<GroupRun>((resolve) => {
    let child;
    try {
      child = spawn(program, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', out, err] });
    } catch (error) {
      closeSync(out);
      closeSync(err);
      resolve({ pid: undefined, exit: { spawnError: (error as NodeJS.ErrnoException).code ?? 'SPAWN_FAILED' }, stopped: null });
      return;
    }
    closeSync(out);
    closeSync(err);
    const pid = child.pid;
    let stopped: Error | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let graceOver = false;
    /** Called when the grace is over (SIGKILL sent): set once the leader has exited. */
    let afterGrace: (() => void) | undefined;
    const stop = (reason: Error): void => {
      if (stopped !== null || pid === undefined) return;
      stopped = reason;
      signalGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        graceOver = true;
        signalGroup(pid, 'SIGKILL');
        afterGrace?.();
      }, graceMs);
    };
    const onAbort = (): void => stop(options.signal.reason instanceof Error ? options.signal.reason : new Error(String(options.signal.reason)));
    if (pid !== undefined) live.set(pid, { stop });
    child.once('error', (error: NodeJS.ErrnoException) => {
      // spawn failed (ENOENT, EACCES): no process, nothing to kill.
      if (pid !== undefined) live.delete(pid);
      clearTimeout(killTimer);
      options.signal.removeEventListener('abort', onAbort);
      resolve({ pid, exit: { spawnError: error.code ?? 'SPAWN_FAILED' }, stopped: null });
    });
    child.once('exit', (code, signal) => {
      options.signal.removeEventListener('abort', onAbort);
      const exit: CommandExit = code !== null ? { exitCode: code, signal: null } : { exitCode: null, signal: signal ?? 'SIGKILL' };
      const done = (): void => {
        if (pid !== undefined) live.delete(pid);
        resolve({ pid, exit, stopped });
      };
      if (pid === undefined) return done();
      // The leader is gone. Members that outlive it (background jobs, ones that ignore SIGTERM) are
      // killed now, or when the grace of a stop is over: the attempt ends with no process left.
      // (After the SIGKILL a member may linger as a zombie nobody reaps: it runs nothing, so it is gone.)
      if (killTimer === undefined || graceOver || !groupAlive(pid)) {
        clearTimeout(killTimer);
        signalGroup(pid, 'SIGKILL');
        return done();
      }
      afterGrace = done;
    });
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sends `signal` to every process of the group; a group already gone is fine. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Whether any process of the group is still alive. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** How many command process groups this process runs now. */
export function runningCommandGroups(): number {
  return live.size;
}

/**
 * Stops every command this process runs (a worker shutting down): SIGTERM to each group now, SIGKILL
 * after the grace. Each attempt then fails as its step decides (see the command step).
 */
export function stopAllCommandGroups(): void {
  for (const { stop } of [...live.values()]) stop(new WorkerShutdownError('The worker running this command shut down; the command was stopped'));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous, the only kind of work an exit handler may do: SIGKILL, no grace left to give.
  process.on('exit', () => {
    for (const pid of live.keys()) signalGroup(pid, 'SIGKILL');
  });
}
