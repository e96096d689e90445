import { COMMAND_LOGS_SIGNAL } from '../../core/command-spec.js';
import type { FlowEvent } from '../../core/events.js';
import type { FlowStore } from '../../stores/flow-store.js';
import { EXIT, UsageError, type ExitCode } from '../cli-error.js';
import { printJson, type CommandContext, type OutputOptions } from '../context.js';
import { readStoredFlow } from '../flow-report.js';
import { withStore } from '../store.js';

export interface LogsCommandOptions extends OutputOptions {
  attempt?: number;
}

/** The logs of one attempt (of one shard, for a mapped step): their blob hashes. */
export interface AttemptLogs {
  attempt: number;
  /** The shard's index for a mapped step's shard; null otherwise. */
  shard: number | null;
  stdout: string;
  stderr: string;
}

/** `chemflow logs --json`: the attempt's logs, hashes and text. */
export interface LogsReport {
  flowId: string;
  stepId: string;
  attempt: number;
  logs: (AttemptLogs & { stdoutText: string; stderrText: string })[];
}

/**
 * `chemflow logs <flowId> <stepId>`: what a command step's program wrote on stdout and stderr in one
 * attempt (default the latest one with logs), read from the blob store (verified). A mapped step's
 * shards that ran in that attempt number are each printed, labelled.
 */
export async function logsCommand(ctx: CommandContext, flowId: string, stepId: string, options: LogsCommandOptions): Promise<ExitCode> {
  return withStore(ctx, async (store) => {
    const { events, shape } = await readStoredFlow(store, flowId);
    if (!shape.steps.some((s) => s.id === stepId))
      throw new UsageError(`Flow ${flowId} has no step ${JSON.stringify(stepId)}`, `its steps: ${shape.steps.map((s) => s.id).join(', ')}`);
    const all = attemptLogs(events, stepId);
    if (all.length === 0) throw new UsageError(`Step ${stepId} of flow ${flowId} has no command logs`, 'only command steps keep logs, once an attempt has run its program');
    const attempt = options.attempt ?? Math.max(...all.map((l) => l.attempt));
    const chosen = all.filter((l) => l.attempt === attempt);
    if (chosen.length === 0)
      throw new UsageError(`Step ${stepId} of flow ${flowId} has no logs for attempt ${attempt}`, `attempts with logs: ${[...new Set(all.map((l) => l.attempt))].join(', ')}`);
    const texts = await Promise.all(chosen.map(async (l) => ({ ...l, stdoutText: await textOf(store, l.stdout), stderrText: await textOf(store, l.stderr) })));
    if (options.json === true) {
      printJson(ctx, { flowId, stepId, attempt, logs: texts } satisfies LogsReport);
      return EXIT.ok;
    }
    for (const log of texts) {
      const where = `attempt ${log.attempt}${log.shard === null ? '' : `, shard ${log.shard}`}`;
      writeBlock(ctx, `stdout (${where})`, log.stdoutText);
      writeBlock(ctx, `stderr (${where})`, log.stderrText);
    }
    return EXIT.ok;
  });
}

/** Every attempt's log hashes, from its `command.logs` signal (or, failing that, its error's details), oldest first. */
export function attemptLogs(events: readonly FlowEvent[], stepId: string): AttemptLogs[] {
  const found = new Map<string, AttemptLogs>();
  for (const event of events) {
    if ((event.type !== 'StepSignal' && event.type !== 'StepFailed') || event.stepId !== stepId) continue;
    const data = event.type === 'StepSignal' ? (event.name === COMMAND_LOGS_SIGNAL ? event.data : undefined) : event.details.logs;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) continue;
    const { stdout, stderr } = data as { stdout?: unknown; stderr?: unknown };
    if (typeof stdout !== 'string' || typeof stderr !== 'string') continue;
    const shard = event.shard === undefined ? null : event.shard.index;
    const key = `${event.attempt}:${shard ?? ''}`;
    if (!found.has(key)) found.set(key, { attempt: event.attempt, shard, stdout, stderr });
  }
  return [...found.values()];
}

async function textOf(store: FlowStore, hash: string): Promise<string> {
  return new TextDecoder('utf-8', { fatal: false }).decode(await store.blobs.get(hash));
}

// eslint-disable-next-line no-control-regex -- exactly the characters that steer a terminal
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A log as the terminal shows it: its lines and tabs kept, every other control character written as an escape. */
function writeBlock(ctx: CommandContext, label: string, text: string): void {
  const safe = text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  ctx.io.stdout.write(`==> ${label} <==\n${safe}${safe === '' || safe.endsWith('\n') ? '' : '\n'}`);
}
