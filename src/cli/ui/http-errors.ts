import {
  ArtifactNotFoundError,
  DefinitionMismatchError,
  FlowLeasedError,
  FlowNotFoundError,
  FlowNotRunnableError,
  RetryRejectedError,
  isStoreOutage,
} from '../../core/errors.js';
import { UsageError } from '../cli-error.js';
import { errorDocument, explanation, type ErrorDocument } from '../explain.js';

/** A request the server refuses before doing anything: its status and error document. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly next: string | null = null,
  ) {
    super(message);
  }
}

/**
 * The answer to an error: the CLI's error document (`{"error": {"code", "message", "next"}}`, the words
 * of its stderr) with a status saying what kind of refusal it is.
 */
export function errorAnswer(error: unknown, env: NodeJS.ProcessEnv): { status: number; body: ErrorDocument } {
  if (error instanceof HttpError) return { status: error.status, body: { error: { code: error.code, message: error.message, next: error.next } } };
  return { status: statusOf(error), body: errorDocument(error, explanation(error, env)) };
}

function statusOf(error: unknown): number {
  if (error instanceof FlowNotFoundError || error instanceof ArtifactNotFoundError) return 404;
  if (
    error instanceof RetryRejectedError ||
    error instanceof FlowNotRunnableError ||
    error instanceof FlowLeasedError ||
    error instanceof DefinitionMismatchError
  )
    return 409;
  if (error instanceof UsageError) return 400;
  if (isStoreOutage(error)) return 503;
  return 500;
}
