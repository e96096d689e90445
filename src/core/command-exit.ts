import type { JsonObject } from './canonical-json.js';
import type { ExitCodeClasses } from './command-spec.js';
import { StepError, type ErrorClass } from './error-class.js';

/** How a command ended: its exit code, the signal that killed it, or why it could not be started. */
export type CommandExit =
  | { exitCode: number; signal: null }
  | { exitCode: null; signal: string }
  /** spawn failed: `ENOENT` (no such program), `EACCES` (not executable), ... */
  | { spawnError: string };

export interface CommandFailure {
  errorClass: ErrorClass;
  /** `COMMAND_EXIT`, `COMMAND_KILLED`, `COMMAND_NOT_FOUND`, `COMMAND_USAGE`. */
  code: string;
  /** What happened, in words. */
  reason: string;
}

/** POSIX signal numbers (Linux), for "killed by signal N" ≡ exit 128+N. */
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGXCPU: 24, SIGXFSZ: 25,
};

/** EX_TEMPFAIL of sysexits.h: the program says "try again later". */
export const EX_TEMPFAIL = 75;

/**
 * The class of a command's end; null for success (exit 0). Defaults: 75 (EX_TEMPFAIL) Transient;
 * killed by a signal or exit 128+N (how shells report one; 137 is the OOM killer's SIGKILL) Transient;
 * not startable (ENOENT, EACCES) or exit 126/127 (a shell's "cannot execute" / "not found") Permanent;
 * exit 2 (usage error by convention) Validation; any other exit Runtime. A step's `exitCodes` override
 * the class of the codes they list (a signal N counts as 128+N); the code keeps saying what happened.
 */
export function commandFailure(exit: CommandExit, exitCodes: ExitCodeClasses): CommandFailure | null {
  if ('spawnError' in exit)
    return { errorClass: 'Permanent', code: 'COMMAND_NOT_FOUND', reason: `the program could not be started (${exit.spawnError})` };
  if (exit.exitCode === 0) return null;
  const number = exit.exitCode ?? 128 + (SIGNAL_NUMBERS[exit.signal] ?? 0);
  const base = defaultFailure(exit);
  const override = overrideOf(number, exitCodes);
  return override === undefined ? base : { ...base, errorClass: override };
}

function defaultFailure(exit: { exitCode: number; signal: null } | { exitCode: null; signal: string }): CommandFailure {
  if (exit.exitCode === null) return { errorClass: 'Transient', code: 'COMMAND_KILLED', reason: `killed by ${exit.signal}` };
  const code = exit.exitCode;
  if (code === EX_TEMPFAIL) return { errorClass: 'Transient', code: 'COMMAND_EXIT', reason: `exit ${code} (EX_TEMPFAIL: try again later)` };
  if (code === 126 || code === 127) return { errorClass: 'Permanent', code: 'COMMAND_NOT_FOUND', reason: `exit ${code} (${code === 127 ? 'command not found' : 'cannot execute'})` };
  if (code > 128 && code < 160) {
    const name = Object.entries(SIGNAL_NUMBERS).find(([, n]) => n === code - 128)?.[0] ?? `signal ${code - 128}`;
    return { errorClass: 'Transient', code: 'COMMAND_KILLED', reason: `exit ${code} (killed by ${name})` };
  }
  if (code === 2) return { errorClass: 'Validation', code: 'COMMAND_USAGE', reason: 'exit 2 (usage error)' };
  return { errorClass: 'Runtime', code: 'COMMAND_EXIT', reason: `exit ${code}` };
}

function overrideOf(code: number, exitCodes: ExitCodeClasses): ErrorClass | undefined {
  if (exitCodes.transient.includes(code)) return 'Transient';
  if (exitCodes.permanent.includes(code)) return 'Permanent';
  if (exitCodes.validation.includes(code)) return 'Validation';
  if (exitCodes.runtime.includes(code)) return 'Runtime';
  return undefined;
}

/**
 * A command step's program failed: its class is the one `commandFailure` chose, and `classifyError`
 * keeps it as it keeps any `StepError`'s, so exit codes go through the one classification path.
 * `details` holds the exit code, the signal, the log tails and hashes and the kept working directory.
 */
export class CommandFailedError extends StepError {
  readonly errorClass: ErrorClass;
  constructor(failure: CommandFailure, program: string, details: JsonObject) {
    super(`Command ${JSON.stringify(program)} failed: ${failure.reason}`, failure.code, { code: failure.code, details });
    this.errorClass = failure.errorClass;
  }
}
