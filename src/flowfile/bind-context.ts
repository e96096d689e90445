import type { StepModule } from '../core/definition.js';
import type { RetryPolicyOptions } from '../core/retry-policy.js';
import type { FlowFileIssue, FlowFileProblem } from './flow-file-error.js';
import { formatPath, type DocPath } from './issue-text.js';
import type { FlowDocument } from './read-document.js';
import type { RetryInput } from './schema.js';

/** What binding one step of a flow file needs: where it is, what it may use, and where problems go. */
export interface BindContext {
  baseDir: string;
  builtins: Readonly<Record<string, StepModule>>;
  flowPolicy: RetryPolicyOptions;
  /** The flow file's `cache` (default false): a step without its own inherits it. */
  flowCache: boolean;
  issues: IssueList;
}

/** Fields missing from `input` are taken from `base`: step ← flow ← chemflow's default. */
export function mergePolicy(base: RetryPolicyOptions, input: RetryInput | undefined): RetryPolicyOptions {
  if (input === undefined) return base;
  const retryOn = input.retryOn ?? base.retryOn;
  return {
    maxRetries: input.maxRetries ?? base.maxRetries,
    backoff: input.backoff ?? base.backoff,
    ...(retryOn === undefined ? {} : { retryOn }),
  };
}

export class IssueList {
  readonly items: FlowFileIssue[] = [];
  constructor(private readonly doc: FlowDocument) {}

  add(problem: FlowFileProblem, path: DocPath, message: string): void {
    const position = this.doc.locate(path);
    this.items.push({ problem, path: formatPath(path), message, ...(position ? { line: position.line, column: position.column } : {}) });
  }
}
