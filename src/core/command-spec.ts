import type { JsonObject } from './canonical-json.js';

/**
 * The params of a command step (the built-in step type `command`), in the canonical form that enters
 * its fingerprint and cache key: the argv, how inputs are named and staged, what outputs are read back,
 * how exit codes are classified, the explicit environment and the script's content hash. Scheduling
 * settings (`timeoutMs`, `retry`, `map`, `resources`) are not here: they never enter a hash.
 */
export interface CommandParams extends JsonObject {
  /** argv: `command[0]` is the program (looked up on PATH), the rest its arguments, with placeholders. */
  command: string[];
  /** Named inputs, or null: then every output of the previous step is `{in.NAME}` by its name. */
  inputs: { [name: string]: CommandInputSpec } | null;
  outputs: { [name: string]: CommandOutputSpec };
  exitCodes: ExitCodeClasses;
  /** Variables set for the command on top of the few passed through (PATH, HOME, ...). */
  env: { [name: string]: string };
  /** A file next to the flow file, staged into the attempt's directory (`{script}`); null when none. */
  script: { name: string; sha256: string } | null;
}

/** Formats a JSON or batch input can be written in for a command. */
export const INPUT_FORMATS = ['csv', 'jsonl', 'json', 'smi'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** Formats an output file can be read back from into rows (`csv`, `jsonl`) or one JSON value (`json`). */
export const OUTPUT_FORMATS = ['csv', 'jsonl', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface CommandInputSpec extends JsonObject {
  /** The step it comes from: the one step the command step needs. */
  step: string;
  /** The output of that step, by name; null: the step's only output. */
  output: string | null;
  /** How a JSON or batch input is written; null: `jsonl` for rows, `json` for anything else. Ignored for files. */
  format: InputFormat | null;
}

export interface CommandOutputSpec extends JsonObject {
  /** Relative to the attempt's working directory, inside it. */
  path: string;
  kind: string;
  /** null: the file itself is the artifact; else it is parsed into rows or a JSON value. */
  format: OutputFormat | null;
}

/** Exit codes (1–255) that override the default class of a command's exit. */
export interface ExitCodeClasses extends JsonObject {
  transient: number[];
  permanent: number[];
  validation: number[];
  runtime: number[];
}

export const EXIT_CODE_CLASS_KEYS = ['transient', 'permanent', 'validation', 'runtime'] as const;

/**
 * Paths of the attempt's working directory that chemflow writes: an output may not be declared there.
 * `in/` holds staged inputs, `tmp/` is the command's TMPDIR, `.chemflow/` its logs and script.
 */
export const RESERVED_WORK_DIRS = ['in', 'tmp', '.chemflow'] as const;

/** Why an output path is not a plain relative path inside the working directory; undefined when it is. */
export function outputPathProblem(path: string): string | undefined {
  if (path === '') return 'expected a relative path, got an empty string';
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path)) return `expected a path relative to the working directory, got the absolute path ${JSON.stringify(path)}`;
  const parts = path.split(/[\\/]/);
  if (parts.includes('..')) return `${JSON.stringify(path)} leaves the working directory ('..' is not allowed)`;
  if (parts.some((p) => p === '' || p === '.')) return `expected a normalised relative path (no empty or '.' segments), got ${JSON.stringify(path)}`;
  const first = parts[0] ?? '';
  if ((RESERVED_WORK_DIRS as readonly string[]).includes(first))
    return `${JSON.stringify(path)} is under ${first}/, which chemflow writes (${RESERVED_WORK_DIRS.map((d) => `${d}/`).join(', ')} are reserved)`;
  return undefined;
}

/** Problems of an `exitCodes` setting: codes outside 1–255, or a code given two classes. */
export function exitCodeProblems(exitCodes: ExitCodeClasses): string[] {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const key of EXIT_CODE_CLASS_KEYS)
    for (const code of exitCodes[key]) {
      if (!Number.isInteger(code) || code < 1 || code > 255) problems.push(`${key}: expected exit codes from 1 to 255 (0 is success), got ${code}`);
      const other = seen.get(code);
      if (other !== undefined && other !== key) problems.push(`exit code ${code} is listed both as ${other} and as ${key}`);
      seen.set(code, key);
    }
  return problems;
}

export const NO_EXIT_CODES: ExitCodeClasses = { transient: [], permanent: [], validation: [], runtime: [] };

/** The signal a command step emits with its log hashes (`{attempt, stdout, stderr, shard?}`), for `chemflow logs` and `chemflow gc`. */
export const COMMAND_LOGS_SIGNAL = 'command.logs';
