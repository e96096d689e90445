import { ERROR_CLASSES, type ErrorClass } from '../../core/error-class.js';
import { isFileArtifact } from '../../core/artifact.js';
import { QUEUE_STATUSES, type QueueStatus } from '../../core/queue-status.js';
import { FLOW_SORTS, type ErrorSearch, type FlowQuery, type FlowSort, type FlowStore } from '../../stores/flow-store.js';
import { errorTimeline } from '../commands/errors.js';
import { listFlowEntries } from '../commands/flows.js';
import { statusReport } from '../commands/status.js';
import { readStoredFlow } from '../flow-report.js';
import { artifactPreview } from './artifact-preview.js';
import { HttpError } from './http-errors.js';

/** The largest page `GET /api/flows` and `GET /api/errors` serve. */
export const MAX_PAGE = 1000;

/**
 * `GET /api/flows`: the `flows --json` document, filtered by `status` (repeatable or comma-separated),
 * `name`, `since`/`until` (creation time), `class` (has a failed attempt of that error class), sorted by
 * `sort` (`newest`, `oldest`, `name`), paged by `limit` and `after`.
 */
export function flowsQuery(params: URLSearchParams): FlowQuery {
  const text = textParam(params);
  const status = params.getAll('status').flatMap((s) => s.split(',')).filter((s) => s !== '');
  for (const s of status)
    if (!(QUEUE_STATUSES as readonly string[]).includes(s))
      throw new HttpError(400, 'CLI_USAGE', `status: "${s}" is not a flow status`, `give one of ${QUEUE_STATUSES.join(', ')}`);
  const sort = text('sort');
  if (sort !== undefined && !(FLOW_SORTS as readonly string[]).includes(sort))
    throw new HttpError(400, 'CLI_USAGE', `sort: "${sort}" is not an order of flows`, `give one of ${FLOW_SORTS.join(', ')}`);
  const query: FlowQuery = {};
  if (status.length > 0) query.status = status as QueueStatus[];
  const name = text('name');
  const errorClass = errorClassParam(params);
  const since = timeParam(params, 'since');
  const until = timeParam(params, 'until');
  const limit = pageSize(text('limit') ?? null);
  const after = text('after');
  if (name !== undefined) query.name = name;
  if (errorClass !== undefined) query.errorClass = errorClass;
  if (since !== undefined) query.since = since;
  if (until !== undefined) query.until = until;
  if (sort !== undefined) query.sort = sort as FlowSort;
  if (limit !== undefined) query.limit = limit;
  if (after !== undefined) query.after = after;
  return query;
}

/** `GET /api/errors`: error rows of every flow, by `class`, `code`, `step`, `flow` (name), `since`, `until`, `limit`, `before`. */
export function errorSearch(params: URLSearchParams): ErrorSearch {
  const text = textParam(params);
  const errorClass = errorClassParam(params);
  const before = text('before');
  if (before !== undefined && !/^[1-9][0-9]{0,15}$/.test(before)) throw new HttpError(400, 'CLI_USAGE', `before: "${before}" is not a row id`);
  const search: ErrorSearch = {};
  const code = text('code');
  const stepId = text('step');
  const flowName = text('flow');
  const since = timeParam(params, 'since');
  const until = timeParam(params, 'until');
  const limit = pageSize(text('limit') ?? null);
  if (errorClass !== undefined) search.errorClass = errorClass;
  if (code !== undefined) search.code = code;
  if (stepId !== undefined) search.stepId = stepId;
  if (flowName !== undefined) search.flowName = flowName;
  if (since !== undefined) search.since = since;
  if (until !== undefined) search.until = until;
  if (limit !== undefined) search.limit = limit;
  if (before !== undefined) search.before = Number(before);
  return search;
}

/** A query parameter's text; absent and empty are the same. */
function textParam(params: URLSearchParams): (key: string) => string | undefined {
  return (key) => {
    const value = params.get(key);
    return value === null || value === '' ? undefined : value;
  };
}

function errorClassParam(params: URLSearchParams): ErrorClass | undefined {
  const value = textParam(params)('class');
  if (value !== undefined && !(ERROR_CLASSES as readonly string[]).includes(value))
    throw new HttpError(400, 'CLI_USAGE', `class: "${value}" is not an error class`, `give one of ${ERROR_CLASSES.join(', ')}`);
  return value as ErrorClass | undefined;
}

/** A date or time parameter as an ISO 8601 instant (a date alone is its midnight UTC). */
function timeParam(params: URLSearchParams, key: string): string | undefined {
  const value = textParam(params)(key);
  if (value !== undefined && Number.isNaN(Date.parse(value)))
    throw new HttpError(400, 'CLI_USAGE', `${key}: "${value}" is not a date or time`, 'give an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z');
  return value === undefined ? undefined : new Date(value).toISOString();
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
