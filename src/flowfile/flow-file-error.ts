import { ChemflowError } from '../core/errors.js';

/** What kind of problem a flow file has; scripts branch on this, people read the message. */
export type FlowFileProblem =
  | 'unreadable'
  | 'syntax'
  | 'too_complex'
  | 'schema'
  | 'unknown_step_type'
  | 'module_not_found'
  | 'module_load_failed'
  | 'export_not_found'
  | 'invalid_module'
  | 'invalid_params'
  | 'invalid_definition'
  /** A command step's `command`, `inputs`, `outputs`, `exitCodes`, `env` or `script` is wrong. */
  | 'invalid_command';

/** One problem at one place of a flow file. */
export interface FlowFileIssue {
  problem: FlowFileProblem;
  /** Path inside the document, e.g. `steps[1].retry.maxRetries`; empty for the whole file. */
  path: string;
  /** What was expected (and what was found). */
  message: string;
  /** 1-based position of the offending value, when the parser knows it. */
  line?: number;
  column?: number;
}

/**
 * A flow file that cannot be turned into a flow definition. It lists every problem found, each with
 * the file, the path inside it and what was expected, so one edit can fix them all.
 */
export class FlowFileError extends ChemflowError {
  readonly code = 'INVALID_FLOW_FILE';
  /** The problem of the first issue. */
  readonly problem: FlowFileProblem;

  constructor(
    /** The file as the user named it (relative to the working directory when inside it). */
    readonly file: string,
    readonly issues: readonly FlowFileIssue[],
    options?: { cause?: unknown },
  ) {
    super(issues.map((issue) => formatIssue(file, issue)).join('\n'), options);
    this.problem = issues[0]?.problem ?? 'schema';
  }
}

export function isFlowFileError(error: unknown): error is FlowFileError {
  return error instanceof FlowFileError;
}

/** `flow.yaml:7:22: steps[1].retry.maxRetries: expected an integer >= 0, got -1` */
export function formatIssue(file: string, issue: FlowFileIssue): string {
  const position = issue.line === undefined ? '' : `:${issue.line}${issue.column === undefined ? '' : `:${issue.column}`}`;
  const where = issue.path === '' ? '' : `${issue.path}: `;
  return `${file}${position}: ${where}${issue.message}`;
}
