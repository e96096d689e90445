import { ERROR_CLASSES } from '../../core/error-class.js';
import type { ErrorCounts } from '../../core/step-execution-error.js';
import type { FlowReport } from '../flow-report.js';
import type { Style } from '../io.js';
import { printable, Rendered } from './printable.js';
import { shardsDone } from './shards.js';
import { table } from './table.js';

/** The summary `run`, `resume` and `status` print: flow, fingerprint, steps, error counts. */
export function renderSummary(report: FlowReport, name: string, style: Style): string {
  const status =
    report.status === 'completed' ? style.green(report.status) : report.status === 'failed' ? style.red(report.status) : style.yellow(report.status);
  const head = [
    `${style.bold('Flow')}         ${printable(report.flowId)}  (${printable(name)})`,
    `${style.bold('Status')}       ${status}`,
    `${style.bold('Fingerprint')}  ${report.flowFingerprint ?? style.dim('(none until the flow completes)')}`,
    '',
  ].join('\n');
  // The SHARDS column appears only for a flow with a sharded step: other flows print as they always did.
  const sharded = report.steps.some((s) => s.shards !== null);
  const rows = report.steps.map((s) => [
    s.stepId,
    new Rendered(s.cached ? `${stepStatus(s.status, style)} ${style.dim('(cached)')}` : stepStatus(s.status, style)),
    String(s.attempts),
    String(s.retryCount),
    ...(sharded ? [s.shards === null ? '-' : shardsDone(s.shards)] : []),
    s.fingerprint === null ? '-' : s.fingerprint.slice(0, 16),
  ]);
  const headers = ['STEP', 'STATUS', 'ATTEMPTS', 'RETRIES', ...(sharded ? ['SHARDS'] : []), 'FINGERPRINT'];
  return `${head}\n${table(headers, rows)}\n${cachedLine(report)}${blockedLines(report)}${renderErrorCounts(report.errors)}\n`;
}

/** `Errors: 3 (Transient 2, Permanent 1, Validation 0, Runtime 0)`: error counts after a run. */
export function renderErrorCounts(counts: ErrorCounts): string {
  return `Errors: ${counts.total} (${ERROR_CLASSES.map((c) => `${c} ${counts.byClass[c]}`).join(', ')})`;
}

/** `Cached: 2 step(s) taken from the step cache (read, descriptors)` — nothing when none was. */
function cachedLine(report: FlowReport): string {
  const cached = report.steps.filter((s) => s.cached).map((s) => s.stepId);
  return cached.length === 0 ? '' : `${printable(`Cached: ${cached.length} step(s) taken from the step cache, not run (${cached.join(', ')})`)}\n`;
}

/** `Blocked: report needs failed step(s) score`: a line per Pending step that needs a Failed one. */
function blockedLines(report: FlowReport): string {
  return report.steps
    .filter((s) => s.blockedBy !== undefined)
    .map((s) => `${printable(`Blocked: ${s.stepId} needs failed step(s) ${(s.blockedBy ?? []).join(', ')}`)}\n`)
    .join('');
}

function stepStatus(status: string, style: Style): string {
  if (status === 'FinishedOk') return style.green(status);
  if (status === 'Failed') return style.red(status);
  if (status === 'Running') return style.yellow(status);
  return status;
}
