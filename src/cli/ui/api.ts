import { ERROR_CLASSES, type ErrorClass } from '../../core/error-class.js';
import { isFileArtifact } from '../../core/artifact.js';
import { QUEUE_STATUSES, type QueueStatus } from '../../core/queue-status.js';
import type { ErrorSearch, FlowQuery, FlowStore } from '../../stores/flow-store.js';
import { errorTimeline } from '../commands/errors.js';
import { listFlowEntries } from '../commands/flows.js';
import { statusReport } from '../commands/status.js';
import { readStoredFlow } from '../flow-report.js';
import { artifactPreview } from './artifact-preview.js';
import { HttpError } from './http-errors.js';

/** The largest page `GET /api/flows` and `GET /api/errors` serve. */
export const MAX_PAGE = 1000;

/** `GET /api/flows`: the `flows --json` document, filtered by `status` (repeatable or comma-separated), `name`, `limit`, `after`. */
export function flowsQuery(params: URLSearchParams): FlowQuery {
  const status = params.getAll('status').flatMap((s) => s.split(',')).filter((s) => s !== '');
  for (const s of status)
    if (!(QUEUE_STATUSES as readonly string[]).includes(s))
      throw new HttpError(400, 'CLI_USAGE', `status: "${s}" is not a flow status`, `give one of ${QUEUE_STATUSES.join(', ')}`);
  const name = params.get('name');
  const after = params.get('after');
  const limit = pageSize(params.get('limit'));
  return {
    ...(status.length === 0 ? {} : { status: status as QueueStatus[] }),
    ...(name === null || name === '' ? {} : { name }),
    ...(limit === undefined ? {} : { limit }),
    ...(after === null || after === '' ? {} : { after }),
  };
}

/** `GET /api/errors`: error rows of every flow, by `class`, `code`, `step`, `flow` (name), `since`, `until`, `limit`, `before`. */
export function errorSearch(params: URLSearchParams): ErrorSearch {
  const text = (key: string): string | undefined => {
    const value = params.get(key);
    return value === null || value === '' ? undefined : value;
  };
  const errorClass = text('class');
  if (errorClass !== undefined && !(ERROR_CLASSES as readonly string[]).includes(errorClass))
    throw new HttpError(400, 'CLI_USAGE', `class: "${errorClass}" is not an error class`, `give one of ${ERROR_CLASSES.join(', ')}`);
  const time = (key: string): string | undefined => {
    const value = text(key);
    if (value !== undefined && Number.isNaN(Date.parse(value)))
      throw new HttpError(400, 'CLI_USAGE', `${key}: "${value}" is not a date or time`, 'give an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z');
    return value === undefined ? undefined : new Date(value).toISOString();
  };
  const before = text('before');
  if (before !== undefined && !/^[1-9][0-9]{0,15}$/.test(before)) throw new HttpError(400, 'CLI_USAGE', `before: "${before}" is not a row id`);
  const search: ErrorSearch = {};
  const code = text('code');
  const stepId = text('step');
  const flowName = text('flow');
  const since = time('since');
  const until = time('until');
  const limit = pageSize(text('limit') ?? null);
  if (errorClass !== undefined) search.errorClass = errorClass as ErrorClass;
  if (code !== undefined) search.code = code;
  if (stepId !== undefined) search.stepId = stepId;
  if (flowName !== undefined) search.flowName = flowName;
  if (since !== undefined) search.since = since;
  if (until !== undefined) search.until = until;
  if (limit !== undefined) search.limit = limit;
  if (before !== undefined) search.before = Number(before);
  return search;
}

function pageSize(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > MAX_PAGE)
    throw new HttpError(400, 'CLI_USAGE', `limit: "${value}" is not a page size`, `give a whole number from 1 to ${MAX_PAGE}`);
  return Number(value);
}

/** The read side of the API, each document built by the function its CLI command uses. */
export class UiReads {
  constructor(private readonly store: FlowStore) {}

  flows(params: URLSearchParams): Promise<unknown> {
    return listFlowEntries(this.store, flowsQuery(params));
  }

  async status(flowId: string): Promise<unknown> {
    return (await statusReport(this.store, flowId)).report;
  }

  errors(flowId: string, params: URLSearchParams): Promise<unknown> {
    const step = params.get('step');
    return errorTimeline(this.store, flowId, step === null || step === '' ? undefined : step);
  }

  async events(flowId: string): Promise<unknown> {
    return (await readStoredFlow(this.store, flowId)).events;
  }

  searchErrors(params: URLSearchParams): Promise<unknown> {
    return this.store.searchErrors(errorSearch(params));
  }

  /** One artifact for a preview (see `artifactPreview`). */
  async artifact(hash: string): Promise<unknown> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new HttpError(400, 'CLI_USAGE', `"${hash}" is not an artifact hash`);
    const [artifact] = await this.store.getArtifacts([hash]);
    return artifact === undefined ? null : artifactPreview(artifact, this.store.blobs);
  }
}

/** A file artifact's name and bytes (verified against its hash by the blob store), or null when the hash names no file artifact. */
export async function fileDownload(store: FlowStore, hash: string): Promise<{ name: string; bytes: Uint8Array } | null> {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new HttpError(400, 'CLI_USAGE', `"${hash}" is not an artifact hash`);
  const [artifact] = await store.getArtifacts([hash]);
  if (artifact === undefined || !isFileArtifact(artifact)) return null;
  return { name: artifact.name, bytes: await store.blobs.get(artifact.hash) };
}
