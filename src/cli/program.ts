import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { QUEUE_STATUSES, type QueueStatus } from '../core/queue-status.js';
import { EXIT, type ExitCode } from './cli-error.js';
import type { CommandContext } from './context.js';
import type { CliIo } from './io.js';
import { resolveBlobDirOption, resolveDbLocation } from './store.js';
import { resolveWorkDirOption } from './work-root.js';
import type { GcCommandOptions } from './commands/gc.js';
import { parseOlderThan, type CachePruneCommandOptions } from './commands/cache.js';
import type { CancelOptions } from './commands/cancel.js';
import type { FlowsCommandOptions } from './commands/flows.js';
import type { LogsCommandOptions } from './commands/logs.js';
import type { MigrateCommandOptions } from './commands/migrate.js';
import type { ResumeOptions } from './commands/resume.js';
import type { RunOptions } from './commands/run.js';
import type { SubmitOptions } from './commands/submit.js';
import type { WorkerCommandOptions } from './commands/worker.js';
import type { UiCommandOptions } from './commands/ui.js';
import { DEFAULT_UI_HOST, DEFAULT_UI_PORT } from './ui/defaults.js';
import { printable } from './render/printable.js';

/** The parsed command line: the program, and the exit code its action left once `parseAsync` returns. */
export interface Program {
  command: Command;
  exitCode(): ExitCode;
  /** Whether the command that ran asked for `--json`; undefined when no command's action was reached. */
  json(): boolean | undefined;
}

export function buildProgram(io: CliIo): Program {
  let exitCode: ExitCode = EXIT.ok;
  let json: boolean | undefined;
  const program = new Command('chemflow')
    .description('Deterministic, event-sourced workflow engine for chemistry pipelines')
    .version(packageVersion(), '-V, --version', 'print the chemflow version')
    .addOption(
      new Option(
        '--db <location>',
        'a postgres:// URL, "memory", or a directory for the embedded database (default: DATABASE_URL, else ./.chemflow)',
      ),
    )
    .addOption(
      new Option(
        '--blob-dir <directory>',
        'where the bytes of batch and file artifacts go, shared by every worker (default: CHEMFLOW_BLOB_DIR, else the embedded database\'s blobs/ or, on PostgreSQL, the database itself, which keeps no files)',
      ),
    )
    .addOption(
      new Option(
        '--work-dir <directory>',
        "where command steps make a directory for each attempt (default: CHEMFLOW_WORK_DIR, else the embedded database's work/ or, on PostgreSQL, <tmp>/chemflow-work)",
      ),
    )
    .exitOverride()
    // Usage errors quote the arguments given: escaped line by line like every other human-readable output.
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s.split('\n').map(printable).join('\n')) })
    .showHelpAfterError('(run `chemflow --help` for usage)')
    .addHelpText(
      'after',
      `\nExit codes: 0 success, 1 the flow failed, 2 bad usage or bad input, 3 the database failed.\nFlow file format, JSON shapes and more: ${CLI_DOCS}`,
    );

  const context = (command: Command): CommandContext => {
    const { db, blobDir, workDir } = command.optsWithGlobals<{ db?: string; blobDir?: string; workDir?: string }>();
    return { io, db: resolveDbLocation(db, io.env), blobDir: resolveBlobDirOption(blobDir, io.env), workDir: resolveWorkDirOption(workDir, io.env) };
  };
  const act =
    <A extends unknown[]>(work: (ctx: CommandContext, ...args: A) => Promise<ExitCode>) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      json = command.opts<{ json?: boolean }>().json === true;
      exitCode = await work(context(command), ...(args.slice(0, -1) as A));
    };

  program
    .command('run')
    .description('start a flow from a flow file and run it to its end (or until a step fails)')
    .argument('<flow-file>', 'YAML or JSON flow file')
    .option('--json', 'print one JSON document: {flowId, status, flowFingerprint, steps, errors}')
    .option('-q, --quiet', 'no progress display')
    .option('--cache', 'satisfy every step from the step cache when it can (except steps declared cacheable: false)')
    .option('--no-cache', 'run every step, whatever the flow file says about cache')
    .option('--concurrency <n>', 'steps of a graph and shards of a mapped step run at the same time by this process (default: the number of cores)', positiveInteger)
    .option('--cpus <n>', 'cores shared by the steps that declare resources (default: this machine\'s)', positiveInteger)
    .option('--memory-mb <m>', 'MiB shared by the steps that declare resources (default: this machine\'s memory)', positiveInteger)
    .action(act(async (ctx, file: string, opts: RunOptions) => (await import('./commands/run.js')).runCommand(ctx, file, opts)));

  program
    .command('resume')
    .description('continue a flow that stopped after a retry was scheduled, or was interrupted')
    .argument('<flowId>')
    .option('--flow <file>', 'the flow file, when not the one recorded by `run`')
    .option('--json', 'print one JSON document, as `run --json`')
    .option('-q, --quiet', 'no progress display')
    .option('--concurrency <n>', 'steps of a graph and shards of a mapped step run at the same time by this process (default: the number of cores)', positiveInteger)
    .option('--cpus <n>', 'cores shared by the steps that declare resources (default: this machine\'s)', positiveInteger)
    .option('--memory-mb <m>', 'MiB shared by the steps that declare resources (default: this machine\'s memory)', positiveInteger)
    .action(act(async (ctx, flowId: string, opts: ResumeOptions) => (await import('./commands/resume.js')).resumeCommand(ctx, flowId, opts)));

  program
    .command('submit')
    .description('record a new flow from a flow file without running it; `chemflow worker` runs it')
    .argument('<flow-file>', 'YAML or JSON flow file')
    .option('--json', 'print one JSON document: {flowId, name, status, flowFile}')
    .option('--cache', 'the worker satisfies every step from the step cache when it can')
    .option('--no-cache', 'the worker runs every step, whatever the flow file says about cache')
    .action(act(async (ctx, file: string, opts: SubmitOptions) => (await import('./commands/submit.js')).submitCommand(ctx, file, opts)));

  program
    .command('worker')
    .description('run every open flow of the database (submitted, interrupted, or due for a retry); start as many as you like')
    .option('--once', 'exit when nothing is left to run (exit 1 if a flow it ran failed)')
    .option('--concurrency <n>', 'flows (and shards of mapped steps) run at the same time by this worker (default: --cpus, else 1)', positiveInteger)
    .option('--cpus <n>', 'cores this worker hands out to steps that declare resources (default: this machine\'s)', positiveInteger)
    .option('--memory-mb <m>', 'MiB this worker hands out to steps that declare resources (default: this machine\'s memory)', positiveInteger)
    .option('--lease-ms <ms>', 'lease of a claimed flow: a worker silent this long is presumed gone (default 30000)', positiveInteger)
    .option('--heartbeat-ms <ms>', 'how often the leases are renewed, below --lease-ms (default 10000)', positiveInteger)
    .option('--poll-ms <ms>', 'longest sleep when idle; NOTIFY and due retries wake it earlier (default 5000)', positiveInteger)
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://<host>:<port>/metrics (0: any free port, printed on stderr)', tcpPort)
    .option('--json', 'print one JSON line per flow: {flowId, outcome, status, flowFingerprint, failedStep, error}')
    .option('-q, --quiet', 'no start-up line')
    .action(act(async (ctx, opts: WorkerCommandOptions) => (await import('./commands/worker.js')).workerCommand(ctx, opts)));

  program
    .command('cancel')
    .description('cancel a flow: no step starts again; an attempt in flight is stopped at its next heartbeat')
    .argument('<flowId>')
    .option('--reason <text>', 'why, kept in the FlowCancelled event')
    .option('--json', 'print one JSON document: {flowId, status, reason, version}')
    .action(act(async (ctx, flowId: string, opts: CancelOptions) => (await import('./commands/cancel.js')).cancelCommand(ctx, flowId, opts)));

  program
    .command('queue')
    .description('the flow queue (a projection of the event log)')
    .command('rebuild')
    .description('recompute the flow queue from the event log (all flows, or one); leases are kept')
    .argument('[flowId]')
    .option('--json', 'print one JSON document: {rebuilt, flowId}')
    .action(act(async (ctx, flowId: string | undefined, opts: { json?: boolean }) => (await import('./commands/queue.js')).queueRebuildCommand(ctx, flowId, opts)));

  const cache = program.command('cache').description('the step cache: reuse of finished steps across flows (docs/cache.md)');
  cache
    .command('stats')
    .description('cache hits, cache entries, and the bytes of the artifacts the entries name')
    .option('--json', 'print one JSON document: {hits, entries, artifactBytes}')
    .action(act(async (ctx, opts: { json?: boolean }) => (await import('./commands/cache.js')).cacheStatsCommand(ctx, opts)));
  cache
    .command('prune')
    .description('drop cache entries (the event log and the artifacts are never touched)')
    .option('--older-than <date>', 'entries written before this ISO 8601 date or time, or older than an age such as 30d, 12h', olderThan)
    .option('--step-type <uses>', 'entries of this step type (as written in `uses`)')
    .option('--all', 'every entry (needed when no other filter is given)')
    .option('--json', 'print one JSON document: {deleted, olderThan, stepType}')
    .action(act(async (ctx, opts: CachePruneCommandOptions) => (await import('./commands/cache.js')).cachePruneCommand(ctx, opts)));

  program
    .command('ui')
    .description('serve the web dashboard over the database: flows, error timelines, retry and cancel (docs/ui.md)')
    .option('--port <port>', `port to listen on (default ${DEFAULT_UI_PORT}; 0: any free port)`, tcpPort)
    .option('--host <host>', `address to listen on (default ${DEFAULT_UI_HOST}); away from loopback every request needs the token`)
    .option('--read-only', 'turn the actions (retry, cancel, resume) off')
    .action(act(async (ctx, opts: UiCommandOptions) => (await import('./commands/ui.js')).uiCommand(ctx, opts)));

  program
    .command('gc')
    .description('remove the chunks and file bytes no stored artifact names, and stale partial writes (artifacts and the log are never touched)')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print one JSON document: {blobs, tempFiles, dryRun}')
    .action(act(async (ctx, opts: GcCommandOptions) => (await import('./commands/gc.js')).gcCommand(ctx, opts)));

  program
    .command('flows')
    .description('list the flows in the database, newest first, one page at a time')
    .option('--status <status>', `only flows in this status (repeatable): ${QUEUE_STATUSES.join(', ')}`, queueStatus, undefined)
    .option('--name <name>', 'only flows with this name')
    .option('--limit <n>', 'at most this many flows (default 50)', positiveInteger)
    .option('--after <flowId>', 'the next page: flows listed after this one (the last id of the previous page)')
    .option('--json', 'print a JSON array of {flowId, name, status, version, lastEventType, createdAt, updatedAt}')
    .action(act(async (ctx, opts: FlowsCommandOptions) => (await import('./commands/flows.js')).flowsCommand(ctx, opts)));

  program
    .command('status')
    .description("show a flow's status, fingerprints, steps and error counts")
    .argument('<flowId>')
    .option('--json', 'print one JSON document: {flowId, status, flowFingerprint, steps, errors}')
    .action(act(async (ctx, flowId: string, opts: { json?: boolean }) => (await import('./commands/status.js')).statusCommand(ctx, flowId, opts)));

  program
    .command('events')
    .description("show a flow's event log")
    .argument('<flowId>')
    .option('--json', 'print the events as a JSON array')
    .action(act(async (ctx, flowId: string, opts: { json?: boolean }) => (await import('./commands/events.js')).eventsCommand(ctx, flowId, opts)));

  program
    .command('errors')
    .description("show a flow's error timeline (every failed attempt), by step then attempt")
    .argument('<flowId>')
    .option('--step <id>', 'only this step')
    .option('--json', 'print a JSON array of {stepId, attemptNumber, errorClass, errorMessage, retryCount, maxRetries, timestamp, details}')
    .action(act(async (ctx, flowId: string, opts: { step?: string; json?: boolean }) => (await import('./commands/errors.js')).errorsCommand(ctx, flowId, opts)));

  program
    .command('logs')
    .description("print what a command step's program wrote on stdout and stderr (latest attempt, or --attempt n)")
    .argument('<flowId>')
    .argument('<stepId>')
    .option('--attempt <n>', 'this attempt (1-based) instead of the latest one with logs', positiveInteger)
    .option('--json', 'print one JSON document: {flowId, stepId, attempt, logs: [{attempt, shard, stdout, stderr, stdoutText, stderrText}]}')
    .action(act(async (ctx, flowId: string, stepId: string, opts: LogsCommandOptions) => (await import('./commands/logs.js')).logsCommand(ctx, flowId, stepId, opts)));

  program
    .command('retry')
    .description('schedule a retry of a failed step (then `chemflow resume` runs it)')
    .argument('<flowId>')
    .argument('<stepId>')
    .option('--reason <text>', 'why, kept in the RetryScheduled event')
    .option('--max-retries <n>', 'retry limit for this decision (default: the limit recorded with the failure)', nonNegativeInteger)
    .option('--json', 'print one JSON document: {flowId, stepId, retryIndex, maxRetries, reason, notBefore}')
    .action(
      act(async (ctx, flowId: string, stepId: string, opts: { reason?: string; maxRetries?: number; json?: boolean }) =>
        (await import('./commands/retry.js')).retryCommand(ctx, flowId, stepId, opts),
      ),
    );

  program
    .command('migrate')
    .description('apply (up, the default) or revert (down, with --yes) the database schema; `run` migrates by itself')
    .argument('[direction]', 'up or down')
    .option('--yes', "confirm `migrate down`, which drops chemflow's tables and all their data")
    .action(act(async (ctx, direction: string | undefined, opts: MigrateCommandOptions) => (await import('./commands/migrate.js')).migrateCommand(ctx, direction, opts)));

  return { command: program, exitCode: () => exitCode, json: () => json };
}

function olderThan(value: string): Date {
  const date = parseOlderThan(value);
  if (date === undefined) throw new InvalidArgumentError('expected an ISO 8601 date or time (2026-01-31, 2026-01-31T12:00:00Z) or an age (30d, 12h, 90m)');
  return date;
}

/**
 * Counts and milliseconds go to the database as 32-bit integers and to timers, which both stop at
 * 2^31 - 1: a larger number is bad input, said here, never a database failure later.
 */
const MAX_INTEGER_OPTION = 2_147_483_647;

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer');
  if (n > MAX_INTEGER_OPTION) throw new InvalidArgumentError(`expected an integer no larger than ${MAX_INTEGER_OPTION}`);
  return n;
}

/** `--status` may be given several times: each value is checked and collected. */
function queueStatus(value: string, previous: QueueStatus[] | undefined): QueueStatus[] {
  const status = QUEUE_STATUSES.find((s) => s === value);
  if (status === undefined) throw new InvalidArgumentError(`expected one of ${QUEUE_STATUSES.join(', ')}`);
  return [...(previous ?? []), status];
}

/** A TCP port to listen on: 1–65535, or 0 for any free one. */
function tcpPort(value: string): number {
  const n = nonNegativeInteger(value);
  if (n > 65_535) throw new InvalidArgumentError('expected a port number from 1 to 65535 (or 0 for any free port)');
  return n;
}

function positiveInteger(value: string): number {
  const n = nonNegativeInteger(value);
  if (n === 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** The reference shipped with the package (`files` in package.json), as a path the user can open. */
const CLI_DOCS = fileURLToPath(new URL('../../docs/cli.md', import.meta.url));

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
