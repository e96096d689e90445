import type { EndedFlowStatus } from './flow-state.js';

/**
 * Typed errors of the engine itself (bad definitions, concurrency, corrupt logs, rejected commands).
 * Every error carries a stable string `code` so scripts and callers can branch without parsing text.
 */
export abstract class ChemflowError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export function isChemflowError(error: unknown): error is ChemflowError {
  return error instanceof ChemflowError;
}

/** A value that cannot be represented as canonical JSON (NaN, Infinity, undefined, a function, a cycle...). */
export class NonCanonicalValueError extends ChemflowError {
  readonly code = 'NON_CANONICAL_VALUE';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`Value at ${path} cannot be hashed as canonical JSON: ${reason}`);
  }
}

/** A string no store accepts (U+0000, a lone UTF-16 surrogate): see `assertStorable`. */
export class UnstorableValueError extends ChemflowError {
  readonly code = 'UNSTORABLE_VALUE';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`Value at ${path} cannot be stored: ${reason}`);
  }
}

/** A flow or step definition that breaks a rule (duplicate id, first step not a source, ...). */
export class InvalidDefinitionError extends ChemflowError {
  readonly code = 'INVALID_DEFINITION';
}

/** The events of a flow were produced by a different definition than the one given to replay them. */
export class DefinitionMismatchError extends ChemflowError {
  readonly code = 'DEFINITION_MISMATCH';
  constructor(
    readonly flowId: string,
    readonly expectedHash: string,
    readonly actualHash: string,
  ) {
    super(
      `Flow ${flowId} was started with definition ${expectedHash} but is being replayed with ${actualHash}`,
    );
  }
}

/** The step whose `StepFinished` first stored an artifact (unknown for one stored outside such a batch). */
export interface ArtifactProducer {
  readonly flowId: string;
  readonly stepId: string;
}

/**
 * An artifact whose payload does not match its hash: changed after it was hashed, or (read from a
 * store) after it was written. Corrupt data, never used: `actualHash` is null when the payload is not
 * even canonical JSON.
 */
export class ArtifactIntegrityError extends ChemflowError {
  readonly code = 'ARTIFACT_INTEGRITY';
  constructor(
    readonly expectedHash: string,
    readonly actualHash: string | null,
    readonly producedBy: ArtifactProducer | null = null,
    /** The stored part found corrupt when it is not the payload itself: `chunk 3 (sha256 …)`, `blob`. */
    readonly part: string = 'payload',
  ) {
    const origin = producedBy === null ? '' : ` (output of step ${producedBy.stepId} in flow ${producedBy.flowId})`;
    const found = actualHash === null ? 'is not canonical JSON' : `hashes to ${actualHash}`;
    super(`Artifact ${expectedHash}${origin} is corrupt: its ${part} ${found}; it is not used`);
  }
}

/** A retry policy whose numbers make no sense (negative maxRetries, factor below 1, unknown class...). */
export class InvalidRetryPolicyError extends ChemflowError {
  readonly code = 'INVALID_RETRY_POLICY';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid retry policy: ${problems.join('; ')}`);
  }
}

/** Optimistic concurrency: someone appended to the flow since `expectedVersion` was read. */
export class ConcurrencyError extends ChemflowError {
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(
    readonly flowId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | undefined,
  ) {
    super(
      `Flow ${flowId}: expected version ${expectedVersion} but the log is at ${actualVersion ?? 'a newer version'}; reload and try again`,
    );
  }
}

/** Another live process holds the flow's lease (it runs the flow): nothing was written. */
export class FlowLeasedError extends ChemflowError {
  readonly code = 'FLOW_LEASED';
  constructor(
    readonly flowId: string,
    readonly owner: string,
    readonly expiresAt: string,
  ) {
    super(`Flow ${flowId} is being run by ${owner} (its lease runs until ${expiresAt}); if that process is gone, the lease expires by itself`);
  }
}

export function isConcurrencyError(error: unknown): error is ConcurrencyError {
  return error instanceof ConcurrencyError;
}

/** A stored event that is unknown, malformed or breaks the state machine. */
export class CorruptEventError extends ChemflowError {
  readonly code = 'CORRUPT_EVENT';
  constructor(
    readonly flowId: string,
    readonly version: number,
    readonly reason: string,
  ) {
    super(`Corrupt event in flow ${flowId} at version ${version}: ${reason}`);
  }
}

export class FlowNotFoundError extends ChemflowError {
  readonly code = 'FLOW_NOT_FOUND';
  constructor(readonly flowId: string) {
    super(`No flow with id ${flowId}`);
  }
}

/** `next`/`runToEnd` on a flow that can make no progress: it completed, or a step failed for good. */
export class FlowNotRunnableError extends ChemflowError {
  readonly code = 'FLOW_NOT_RUNNABLE';
  constructor(
    readonly flowId: string,
    readonly reason: EndedFlowStatus,
    readonly failedStepId?: string,
  ) {
    super(
      reason === 'completed'
        ? `Flow ${flowId} is already completed`
        : reason === 'cancelled'
          ? `Flow ${flowId} was cancelled`
          : `Flow ${flowId} stopped: step ${failedStepId ?? '?'} failed (schedule a retry to continue)`,
    );
  }
}

export type RetryRejectionReason =
  | 'unknown_step'
  | 'step_not_failed'
  | 'flow_completed'
  | 'flow_cancelled'
  | 'max_retries_exceeded';

/** `scheduleRetry` refused; nothing was appended. */
export class RetryRejectedError extends ChemflowError {
  readonly code = 'RETRY_REJECTED';
  constructor(
    readonly flowId: string,
    readonly stepId: string,
    readonly reason: RetryRejectionReason,
    detail: string,
  ) {
    super(`Retry of step ${stepId} in flow ${flowId} rejected (${reason}): ${detail}`);
  }
}

export class ArtifactNotFoundError extends ChemflowError {
  readonly code = 'ARTIFACT_NOT_FOUND';
  constructor(readonly hash: string) {
    super(`No artifact with hash ${hash}`);
  }
}

/**
 * What kind of database failure a `StoreError` is, from its SQLSTATE (see `storeFailureOf` in
 * src/stores/sql/store-failure.ts): it decides whether waiting can help and the CLI's exit code.
 * - `unavailable`: the database cannot be reached or dropped the work (08…, 57P…, 53…, 40… after the
 *   retries, a network errno): an outage; running again later may succeed.
 * - `permission`: the role lacks a privilege (42501): a configuration error naming the object.
 * - `configuration`: the database, schema, role or password is not what chemflow was pointed at
 *   (other 42…, 28…, 3D000, 3F000): a configuration error.
 * - `data`: a value the database refuses (22…).
 * - `limit`: a value or statement beyond a limit of the database (54…), e.g. a jsonb too large.
 * - `refused`: any other statement the database refused; running it again fails the same way.
 */
export type StoreFailure = 'unavailable' | 'permission' | 'configuration' | 'data' | 'limit' | 'refused';

/** The `code` of a `StoreError` of each kind; `STORE_ERROR` is the outage. */
export const STORE_ERROR_CODES = {
  unavailable: 'STORE_ERROR',
  permission: 'STORE_PERMISSION_DENIED',
  configuration: 'STORE_MISCONFIGURED',
  data: 'STORE_DATA_REJECTED',
  limit: 'STORE_LIMIT_EXCEEDED',
  refused: 'STORE_REFUSED',
} as const satisfies Record<StoreFailure, string>;

/** A database failure that survived the bounded retries, or one that is not worth retrying. */
export class StoreError extends ChemflowError {
  readonly code: (typeof STORE_ERROR_CODES)[StoreFailure];
  /** What kind of failure; `unavailable` unless the database said otherwise. */
  readonly failure: StoreFailure;
  /** The SQLSTATE the database gave, if any. */
  readonly sqlState: string | undefined;
  constructor(
    readonly operation: string,
    message: string,
    options?: { cause?: unknown; failure?: StoreFailure; sqlState?: string | undefined },
  ) {
    super(`${operation} failed: ${message}`, options);
    this.failure = options?.failure ?? 'unavailable';
    this.code = STORE_ERROR_CODES[this.failure];
    this.sqlState = options?.sqlState;
  }
}

/** Why a directory cannot hold the embedded store (see `StoreDirectoryError`). */
export type StoreDirectoryProblem = 'missing' | 'empty' | 'not_a_store' | 'not_a_directory';

/**
 * A directory given for the embedded store that cannot be used: it does not exist or is empty and the
 * caller only reads, it holds files that are not a chemflow database, or it is a file. Nothing was created.
 */
export class StoreDirectoryError extends ChemflowError {
  readonly code = 'STORE_DIRECTORY';
  constructor(
    readonly path: string,
    readonly problem: StoreDirectoryProblem,
    /** A few of the files found, for `not_a_store`. */
    readonly found: readonly string[] = [],
  ) {
    super(
      problem === 'missing' || problem === 'empty'
        ? `No chemflow database at ${path}: the directory ${problem === 'missing' ? 'does not exist' : 'is empty'}`
        : problem === 'not_a_directory'
          ? `${path} is a file, not a directory for the embedded database`
          : `${path} is not a chemflow database: it holds other files (${found.join(', ')}); an embedded database is only created in a new or empty directory`,
    );
  }
}

/** The database is away (or dropped the work): waiting and trying again may help; nothing else will. */
export function isStoreOutage(error: unknown): error is StoreError {
  return error instanceof StoreError && error.failure === 'unavailable';
}

/** A store location that names no store: a URL whose scheme is not `postgres://` or `postgresql://`. */
export class InvalidStoreLocationError extends ChemflowError {
  readonly code = 'INVALID_STORE_LOCATION';
  /** The accepted forms, for messages. */
  static readonly accepted =
    'a postgres://… or postgresql://… URL (a PostgreSQL server), "memory" (in memory, gone when the process ends), or a directory path (the embedded database, created in a new or empty directory)';
  constructor(readonly scheme: string) {
    // Only the scheme is repeated: the rest of a URL may hold a password.
    super(`Unsupported database URL scheme "${scheme}://"; expected ${InvalidStoreLocationError.accepted}`);
  }
}

/**
 * A `postgres://` URL that does not parse (a port that is not a number, malformed percent-encoding):
 * refused before any connection, since the driver would turn it into a host lookup or an outage.
 */
export class InvalidDatabaseUrlError extends ChemflowError {
  readonly code = 'INVALID_DATABASE_URL';
  // Only the reason is said: the URL may hold a password.
  constructor(readonly reason: string) {
    super(`Invalid database URL: ${reason}`);
  }
}

/** A chunk or file an artifact names is not in the blob store: removed, or the store was pointed elsewhere. */
export class BlobNotFoundError extends ChemflowError {
  readonly code = 'BLOB_NOT_FOUND';
  constructor(
    readonly hash: string,
    readonly location: string,
  ) {
    super(`No blob ${hash} in the blob store at ${location}: it was removed, or this is not the blob store the artifact was written to`);
  }
}

/**
 * A file artifact written where no blob directory keeps files: a PostgreSQL server store keeps batch
 * chunks in a table, but files only in a directory given by `--blob-dir` (or `CHEMFLOW_BLOB_DIR`).
 * Permanent: the attempt would fail the same way until the store is opened with one.
 */
export class BlobDirRequiredError extends ChemflowError {
  readonly code = 'BLOB_DIR_REQUIRED';
  readonly errorClass = 'Permanent' as const;
  constructor(readonly location: string) {
    super(
      `File artifacts need a blob directory: the blob store at ${location} keeps batch chunks only. Pass --blob-dir <directory> (or set CHEMFLOW_BLOB_DIR) to a directory every worker can reach`,
    );
  }
}
