import { ChemflowError } from '../core/errors.js';

/** Exit codes of the `chemflow` command: a public contract. */
export const EXIT = {
  /** The command did what was asked (for `run`/`resume`: the flow completed). */
  ok: 0,
  /** The flow failed: a step failed and will not be retried automatically. */
  flowFailed: 1,
  /**
   * Bad usage or bad input: unknown command or flag, bad flow file, unknown flow, rejected command; also
   * a database that refuses rather than fails (`StoreError` other than `unavailable`: a missing privilege,
   * a wrong schema or role, a value or limit it refuses), which running again would not change.
   */
  usage: 2,
  /**
   * The database is unavailable (`StoreError` of kind `unavailable`): unreachable, a connection lost
   * beyond the bounded retries. Nothing is half-written (every append is atomic); running again may succeed.
   */
  store: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A command that cannot be carried out as asked; `hint` says what to do instead. */
export class UsageError extends ChemflowError {
  static readonly code = 'CLI_USAGE';
  readonly code = UsageError.code;
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}
