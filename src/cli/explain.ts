import {
  DefinitionMismatchError,
  FlowLeasedError,
  FlowNotFoundError,
  FlowNotRunnableError,
  RetryRejectedError,
  StoreError,
  isChemflowError,
} from '../core/errors.js';
import { FlowFileError, formatIssue } from '../flowfile/flow-file-error.js';
import { UsageError } from './cli-error.js';
import { printable } from './render/printable.js';

/** What a failing command prints on stdout with `--json`: `{"error": {"code", "message", "next"}}`. */
export interface ErrorDocument {
  error: {
    /** The error's code (`FLOW_NOT_FOUND`, `INVALID_FLOW_FILE`, `STORE_ERROR`, `CLI_USAGE`, ...); `UNEXPECTED` for a bug. */
    code: string;
    /** What went wrong: the stderr message without its `Error:` prefix and `Next:` line. */
    message: string;
    /** What to do next (the stderr `Next:` hint), or null when there is none. */
    next: string | null;
  };
}

/**
 * The error document of an error explained by `lines` (`explanation`, before escaping): a script reads
 * what a person reads, exactly, and every new message or hint reaches both at once.
 */
export function errorDocument(error: unknown, lines: readonly string[]): ErrorDocument {
  const next = lines.filter((line) => line.startsWith('Next: ')).map((line) => line.slice('Next: '.length));
  const message = lines
    .filter((line) => !line.startsWith('Next: '))
    .join('\n')
    .replace(/^Error(?: \([A-Z0-9_]+\))?: /, '');
  const code = isChemflowError(error) ? error.code : 'UNEXPECTED';
  return { error: { code, message, next: next.length > 0 ? next.join(' ') : null } };
}

/** What went wrong and what to do next, for stderr: one line per entry, each escaped (`printable`). */
export function explain(error: unknown, env: NodeJS.ProcessEnv = {}): string {
  return escapedLines(explanation(error, env));
}

export function escapedLines(lines: readonly string[]): string {
  return `${lines.map(printable).join('\n')}\n`;
}

/** What went wrong and what to do next, one entry per line, as written (unescaped). */
export function explanation(error: unknown, env: NodeJS.ProcessEnv): string[] {
  const lines: string[] = [];
  if (error instanceof FlowFileError) {
    lines.push(
      `Invalid flow file (${error.issues.length} problem${error.issues.length === 1 ? '' : 's'}):`,
      ...error.issues.map((issue) => formatIssue(error.file, issue)),
    );
    lines.push('Nothing was written.', 'Next: fix the flow file and run the command again.');
  } else if (error instanceof UsageError) {
    // The CLI composes a usage error, some of them over several lines (`migrate down` lists its tables).
    lines.push(...`Error: ${error.message}`.split('\n'));
    if (error.hint) lines.push(`Next: ${error.hint}`);
  } else if (error instanceof FlowNotFoundError) {
    lines.push(`Error: ${error.message}`, 'Next: `chemflow flows` lists the flows in this database (is --db / DATABASE_URL the right one?).');
  } else if (error instanceof RetryRejectedError) {
    lines.push(`Error: ${error.message}`, `Next: ${retryHint(error)}`);
  } else if (error instanceof FlowNotRunnableError) {
    lines.push(`Error: ${error.message}`);
    lines.push(
      error.reason === 'failed'
        ? `Next: \`chemflow retry ${error.flowId} ${error.failedStepId ?? '<step>'}\`, then \`chemflow resume ${error.flowId}\`.`
        : `Next: \`chemflow status ${error.flowId}\` shows its result.`,
    );
  } else if (error instanceof DefinitionMismatchError) {
    lines.push(
      `Error: the flow file's steps changed since flow ${error.flowId} started (definition ${error.actualHash.slice(0, 12)}, recorded ${error.expectedHash.slice(0, 12)}).`,
      'Next: restore the flow file as it was, or start a new flow with `chemflow run`.',
    );
  } else if (error instanceof FlowLeasedError) {
    lines.push(
      `Error: flow ${error.flowId} is being run by ${error.owner} (its lease runs until ${error.expiresAt}).`,
      'Next: wait for it (`chemflow status` shows its progress); if that process is gone, its lease expires by itself and the flow can be resumed then.',
    );
  } else if (error instanceof StoreError) {
    lines.push(`Error (${error.code}): ${error.message}${error.sqlState === undefined ? '' : ` (SQLSTATE ${error.sqlState})`}`);
    lines.push(`Next: ${storeHint(error)}`);
  } else if (isChemflowError(error)) {
    lines.push(`Error (${error.code}): ${error.message}`);
  } else {
    lines.push(`Error: ${error instanceof Error ? error.message : String(error)}`);
    if (env.CHEMFLOW_DEBUG && error instanceof Error && error.stack) lines.push(...error.stack.split('\n'));
    else lines.push('(set CHEMFLOW_DEBUG=1 for the stack trace)');
  }
  return lines;
}

/** What to do about each kind of database failure: only an outage is worth waiting for. */
function storeHint(error: StoreError): string {
  switch (error.failure) {
    case 'unavailable':
      return 'check that the database is up and reachable, then run the command again (nothing is half-written: every write is atomic).';
    case 'permission':
      return "the database role lacks a privilege on the object named above: grant it as the schema's owner (docs/security.md lists the grants; run them again after every `chemflow migrate up`). Waiting will not help.";
    case 'configuration':
      return 'check --db / DATABASE_URL (role, password, database, search_path) and that the schema is migrated (`chemflow migrate up` as its owner). Waiting will not help.';
    case 'data':
    case 'limit':
      return 'the database refused a value as given (see above); running the command again fails the same way. Nothing was half-written.';
    case 'refused':
      return 'the database refused the statement (see above); running the command again fails the same way. Nothing was half-written.';
  }
}

function retryHint(error: RetryRejectedError): string {
  switch (error.reason) {
    case 'max_retries_exceeded':
      return `allow more with \`chemflow retry ${error.flowId} ${error.stepId} --max-retries <n>\`.`;
    case 'step_not_failed':
      return `only a Failed step can be retried; \`chemflow status ${error.flowId}\` shows the steps (an interrupted flow continues with \`chemflow resume ${error.flowId}\`).`;
    case 'unknown_step':
      return `\`chemflow status ${error.flowId}\` lists its steps.`;
    case 'flow_completed':
      return 'a completed flow cannot be retried; start a new one with `chemflow run`.';
    case 'flow_cancelled':
      return 'a cancelled flow never runs again; start a new one with `chemflow run`.';
  }
}
