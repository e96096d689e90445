import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, open, readFile, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { JsonObject } from '../../core/canonical-json.js';
import { commandFailure, CommandFailedError } from '../../core/command-exit.js';
import { bindCommandInputs } from '../../core/command-inputs.js';
import { COMMAND_LOGS_SIGNAL, type CommandParams } from '../../core/command-spec.js';
import { placeholdersOf, substitute } from '../../core/command-template.js';
import type { StepContext, StepResult } from '../../core/definition.js';
import { classifyError, PermanentError, ValidationError, type ErrorClass } from '../../core/error-class.js';
import { BlobDirRequiredError } from '../../core/errors.js';
import type { StepOutput } from '../../core/step-data.js';
import { storableText } from '../../core/storable.js';
import { runProcessGroup, type GroupRun } from './process-group.js';
import { readOutputs } from './read-outputs.js';
import { stageInput } from './stage-inputs.js';
import { defaultWorkRoot, makeAttemptDir } from './work-dir.js';

export { COMMAND_LOGS_SIGNAL };

/** How much of the end of stdout and stderr an error row keeps. */
export const LOG_TAIL_BYTES = 4096;

/** Variables passed through from the worker's environment (never hashed: they describe the machine). */
const PASSED_THROUGH = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'] as const;

/** A command stopped by its timeout, a cancel, a lost lease or a worker's shutdown: the stop's own class and code, with the logs. */
class CommandStoppedError extends Error {
  readonly errorClass: ErrorClass;
  readonly code: string;
  constructor(
    reason: Error,
    readonly details: JsonObject,
  ) {
    const classified = classifyError(reason);
    super(`${classified.message} (the command's process group was stopped)`);
    this.errorClass = classified.errorClass;
    this.code = classified.code;
  }
}

/**
 * One attempt of a command step: a fresh working directory, the inputs staged into it, the program run
 * in its own process group with its stdout and stderr written to files, those stored as `chemflow/log`
 * file artifacts (their hashes in a `command.logs` signal and in any error's details), then the exit
 * classified (`commandFailure`) and the declared outputs read back. The directory is removed after a
 * success and kept after a failure, for inspection (its path is in the error's details).
 */
export async function runCommandAttempt(ctx: StepContext<CommandParams>): Promise<StepResult> {
  const params = ctx.params;
  const dir = await makeAttemptDir(ctx.workRoot ?? defaultWorkRoot(), { flowId: ctx.flowId, stepId: ctx.stepId, attempt: ctx.attempt, shard: ctx.shard });
  const used = placeholdersOf(params.command).flatMap(({ placeholder }) => (placeholder.kind === 'in' ? [placeholder.name] : []));
  const binding = bindCommandInputs(params.inputs, ctx.input, used);
  if (!binding.ok) throw new ValidationError(binding.problem, { code: 'COMMAND_INPUT', details: { workDir: dir } });
  const inputs: Record<string, string> = {};
  for (const [name, index] of Object.entries(binding.bound)) {
    const input = ctx.input[index];
    if (input === undefined) continue;
    inputs[name] = await stageInput(input, name, params.inputs?.[name]?.format ?? null, dir);
    // Stopped while a large input was written: the program is never started.
    if (ctx.signal.aborted) throw new CommandStoppedError(abortReason(ctx.signal), { workDir: dir });
  }
  const script = params.script === null ? null : await stageScript(params.script, ctx.baseDir, dir);
  const outputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(params.outputs)) {
    outputs[name] = join(dir, spec.path);
    await mkdir(dirname(outputs[name]), { recursive: true });
  }
  const argv = substitute(params.command, { inputs, outputs, script, workdir: dir });
  const stdoutPath = join(dir, '.chemflow', 'stdout.log');
  const stderrPath = join(dir, '.chemflow', 'stderr.log');
  const run = await runProcessGroup({ argv, cwd: dir, env: commandEnv(params, ctx, dir), stdoutPath, stderrPath, signal: ctx.signal });
  const logs = await storeLogs(ctx, stdoutPath, stderrPath);
  const details = async (): Promise<JsonObject> => ({ ...exitFacts(run), ...(await tails(stdoutPath, stderrPath)), logs, workDir: dir });
  if (run.stopped !== null) throw new CommandStoppedError(run.stopped, await details());
  const failure = commandFailure(run.exit, params.exitCodes);
  if (failure !== null) throw new CommandFailedError(failure, argv[0] ?? '', await details());
  let results: StepOutput[];
  try {
    results = await readOutputs(params.outputs, dir, ctx);
  } catch (error) {
    if (error instanceof Error) Object.assign(error, { details: await details() });
    throw error;
  }
  // Stopped after the program ended, while its outputs were read: the stop wins, as for any step.
  if (ctx.signal.aborted) throw new CommandStoppedError(abortReason(ctx.signal), await details());
  await rm(dir, { recursive: true, force: true });
  await removeEmptyParents(dir, ctx.workRoot ?? defaultWorkRoot());
  return { outputs: results };
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}

/** The step's and flow's directories once nothing is left in them; a kept or running attempt's dir stops it. */
async function removeEmptyParents(dir: string, workRoot: string): Promise<void> {
  for (let parent = dirname(dir); parent.startsWith(`${workRoot}/`); parent = dirname(parent)) {
    try {
      await rmdir(parent);
    } catch {
      return; // not empty (another attempt's directory), or gone already
    }
  }
}

/** PATH, HOME, LANG, LC_ALL, TZ passed through; TMPDIR in the attempt's directory; the step's `env`; the attempt's identity. */
function commandEnv(params: CommandParams, ctx: StepContext<CommandParams>, dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of PASSED_THROUGH) if (process.env[name] !== undefined) env[name] = process.env[name];
  env.TMPDIR = join(dir, 'tmp');
  Object.assign(env, params.env);
  env.CHEMFLOW_FLOW_ID = ctx.flowId;
  env.CHEMFLOW_STEP_ID = ctx.stepId;
  env.CHEMFLOW_ATTEMPT = String(ctx.attempt);
  if (ctx.shard !== undefined) {
    env.CHEMFLOW_SHARD = String(ctx.shard.index);
    env.CHEMFLOW_SHARD_COUNT = String(ctx.shard.count);
  }
  return env;
}

/**
 * Copies the script into `.chemflow/` (executable) and checks it is the content the flow was defined
 * with: a script edited after the flow was submitted would run code its fingerprint does not describe.
 */
async function stageScript(script: { name: string; sha256: string }, baseDir: string, dir: string): Promise<string> {
  const source = resolve(baseDir, script.name);
  const target = join(dir, '.chemflow', basename(script.name));
  try {
    await copyFile(source, target, constants.COPYFILE_EXCL);
  } catch (error) {
    throw new PermanentError(`The script ${source} cannot be read: ${(error as Error).message}`, { code: 'COMMAND_SCRIPT_MISSING' });
  }
  const actual = createHash('sha256').update(await readFile(target)).digest('hex');
  if (actual !== script.sha256)
    throw new PermanentError(
      `The script ${source} changed since the flow was defined (sha256 ${actual}, the definition has ${script.sha256}); submit the flow again to run the new script`,
      { code: 'COMMAND_SCRIPT_CHANGED' },
    );
  await chmod(target, 0o555);
  return target;
}

/** The logs as file artifacts, their hashes emitted for `chemflow logs`; null when the blob store keeps no files. */
async function storeLogs(ctx: StepContext<CommandParams>, stdoutPath: string, stderrPath: string): Promise<{ stdout: string; stderr: string } | null> {
  try {
    const stdout = await ctx.file('chemflow/log', stdoutPath, { name: 'stdout.log', metadata: { stream: 'stdout' } });
    const stderr = await ctx.file('chemflow/log', stderrPath, { name: 'stderr.log', metadata: { stream: 'stderr' } });
    const logs = { stdout: stdout.hash, stderr: stderr.hash };
    ctx.emit(COMMAND_LOGS_SIGNAL, { attempt: ctx.attempt, ...logs, ...(ctx.shard === undefined ? {} : { shard: ctx.shard.index }) });
    return logs;
  } catch (error) {
    // A PostgreSQL store without --blob-dir keeps no files: the tails in an error's details are all there is.
    if (error instanceof BlobDirRequiredError) return null;
    throw error;
  }
}

function exitFacts(run: GroupRun): JsonObject {
  if ('spawnError' in run.exit) return { exitCode: null, signal: null, spawnError: run.exit.spawnError };
  return { exitCode: run.exit.exitCode, signal: run.exit.signal };
}

async function tails(stdoutPath: string, stderrPath: string): Promise<{ stdoutTail: string; stderrTail: string }> {
  return { stdoutTail: await tailOf(stdoutPath), stderrTail: await tailOf(stderrPath) };
}

/** The last `LOG_TAIL_BYTES` of a log as storable text (a character cut at the start becomes U+FFFD). */
export async function tailOf(path: string): Promise<string> {
  let file;
  try {
    file = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await file.stat();
    const length = Math.min(size, LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    return storableText(new TextDecoder('utf-8', { fatal: false }).decode(buffer));
  } finally {
    await file.close();
  }
}

