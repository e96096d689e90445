import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FlowStore } from '../../stores/flow-store.js';
import { UsageError } from '../cli-error.js';
import type { UiActions } from './actions.js';
import { UiReads, fileDownload } from './api.js';
import { allowedHosts, isLoopback, originAllowed, requestToken, sameToken } from './auth.js';
import { ChangeFeed } from './change-feed.js';
import { flowGraphPicture } from './graph.js';
import { HttpError, errorAnswer } from './http-errors.js';
import { loadWebAssets, type WebAsset } from './web-assets.js';
import { writtenReport } from './written-report.js';

export interface UiServerOptions {
  store: FlowStore;
  actions: UiActions;
  host: string;
  /** 0: any free port. */
  port: number;
  token: string;
  readOnly: boolean;
  /** How often the live feed looks at the flow queue (PostgreSQL also wakes it by NOTIFY). */
  pollMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Where the web app's files are (default: the package's `web/`). */
  webDir?: string;
}

export interface UiServer {
  /** `http://HOST:PORT/?token=TOKEN`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** What every answer carries: no inline script, no framing, no referrer (the page's URL holds the token). */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

const MAX_BODY = 64 * 1024;
const PAGE = /^\/(?:flows\/[^/]+|errors)?$/;
const FLOW = /^\/api\/flows\/([^/]+)(?:\/(errors|events|graph\.svg|report|retry|cancel|resume))?$/;

/**
 * The web dashboard's server: the pages, the JSON API and the live feed over one store. Actions are
 * POST only and need `Authorization: Bearer TOKEN` (no cookie ever authorises anything, so another
 * site cannot make a browser act); every request must name this server in `Host` and, when it comes
 * from a page, in `Origin`. Away from loopback every API read needs the token too.
 */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const { store, actions, host, token, readOnly } = options;
  const env = options.env ?? {};
  const assets = loadWebAssets(options.webDir);
  const reads = new UiReads(store);
  const feed = new ChangeFeed(store, options.pollMs ?? 1000);
  const streams = new Set<ServerResponse>();
  let hosts = new Set<string>();
  const loopback = isLoopback(host);

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://server');
    // On loopback a page of another site could reach the server through a DNS name of its own: only the
    // server's own names are answered. Away from loopback every request carries the token instead.
    if (loopback && !hosts.has(String(request.headers.host ?? '').toLowerCase()))
      throw new HttpError(421, 'UI_HOST', 'this server does not answer to that Host name', 'open the address the server printed');
    const path = url.pathname;
    const method = request.method ?? 'GET';
    if (method === 'POST') {
      if (!originAllowed(header(request, 'origin'), hosts, request.headers.host)) throw new HttpError(403, 'UI_ORIGIN', 'actions are taken only from this server\'s own pages');
      if (!sameToken(requestToken(request, url, false), token))
        throw new HttpError(401, 'UI_TOKEN', 'an action needs the token the server printed at start', 'send it as `Authorization: Bearer TOKEN`');
      if (readOnly) throw new HttpError(403, 'UI_READ_ONLY', 'this server was started with --read-only: it takes no actions');
      const match = FLOW.exec(path);
      const flowId = decodeURIComponent(match?.[1] ?? '');
      const body = await readJson(request);
      switch (match?.[2]) {
        case 'retry': {
          const stepId = body.stepId;
          if (typeof stepId !== 'string' || stepId === '') throw new HttpError(400, 'CLI_USAGE', 'retry needs {"stepId": "…"}');
          return send(response, 200, await actions.retry(flowId, stepId, typeof body.reason === 'string' ? body.reason : undefined));
        }
        case 'cancel':
          return send(response, 200, await actions.cancel(flowId, typeof body.reason === 'string' ? body.reason : null));
        case 'resume': {
          const started = await actions.resume(flowId);
          return send(response, started === null ? 200 : 202, started ?? (await reads.status(flowId)));
        }
        default:
          throw new HttpError(match === null ? 404 : 405, match === null ? 'UI_NOT_FOUND' : 'UI_METHOD', match === null ? `no action at ${path}` : 'use GET');
      }
    }
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'UI_METHOD', `${method} is not served; actions are POST`);
    if (path.startsWith('/assets/')) {
      const asset = assets.get(path.slice('/assets/'.length));
      if (asset === undefined) throw new HttpError(404, 'UI_NOT_FOUND', `no file ${path}`);
      return sendAsset(response, asset);
    }
    if (PAGE.test(path)) {
      const page = assets.get('index.html');
      if (page === undefined) throw new HttpError(500, 'UI_MISSING', 'the web app is missing from this installation');
      return sendAsset(response, page);
    }
    if (!path.startsWith('/api/')) throw new HttpError(404, 'UI_NOT_FOUND', `no page at ${path}`, 'the pages are /, /flows/<flowId> and /errors');
    if (!loopback && !sameToken(requestToken(request, url, true), token))
      throw new HttpError(401, 'UI_TOKEN', 'this server is reachable from the network: every request needs its token');
    if (path === '/api/config') return send(response, 200, { readOnly, store: store.kind });
    if (path === '/api/flows') return send(response, 200, await reads.flows(url.searchParams));
    if (path === '/api/errors') return send(response, 200, await reads.searchErrors(url.searchParams));
    if (path === '/api/live') return live(response);
    const download = /^\/api\/artifacts\/([^/]+)\/download$/.exec(path);
    if (download !== null) {
      const file = await fileDownload(store, decodeURIComponent(download[1] ?? ''));
      if (file === null) throw new HttpError(404, 'UI_NOT_FOUND', 'no file artifact with that hash');
      return sendFile(response, file.name, file.bytes);
    }
    if (path.startsWith('/api/artifacts/')) return send(response, 200, await reads.artifact(decodeURIComponent(path.slice('/api/artifacts/'.length))));
    const match = FLOW.exec(path);
    if (match === null) throw new HttpError(404, 'UI_NOT_FOUND', `no API at ${path}`);
    const flowId = decodeURIComponent(match[1] ?? '');
    switch (match[2]) {
      case undefined:
        return send(response, 200, await reads.status(flowId));
      case 'errors':
        return send(response, 200, await reads.errors(flowId, url.searchParams));
      case 'events':
        return send(response, 200, await reads.events(flowId));
      case 'graph.svg':
        return sendSvg(response, await flowGraphPicture(store, flowId));
      case 'report':
        // A file from this machine's disk, not a document of the store: the token is asked for on loopback too.
        if (!sameToken(requestToken(request, url, true), token)) throw new HttpError(401, 'UI_TOKEN', 'the report needs the token the server printed at start');
        return sendReport(response, await writtenReport(store, flowId));
      default:
        throw new HttpError(405, 'UI_METHOD', 'actions are POST');
    }
  };

  /** Server-sent events: `change` with the ids of the flows that changed. */
  const live = (response: ServerResponse): void => {
    response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    response.write('retry: 2000\n\n');
    streams.add(response);
    const stop = feed.listen((ids) => response.write(`event: change\ndata: ${JSON.stringify(ids)}\n\n`));
    const beat = setInterval(() => response.write(': alive\n\n'), 15_000);
    beat.unref();
    response.on('close', () => {
      clearInterval(beat);
      stop();
      streams.delete(response);
    });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const { status, body } = errorAnswer(error, env);
      if (response.headersSent) response.end();
      else send(response, status, body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(
      `Cannot serve on ${host}:${options.port}: ${error.code === 'EADDRINUSE' ? 'the port is in use by another process' : error.message}`,
      'choose another --port (0 picks a free one) or --host',
    );
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(host, port);
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/?token=${token}`,
    port,
    close: async () => {
      await feed.close();
      for (const stream of streams) stream.end();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`${JSON.stringify(body)}\n`);
}

/** A file artifact as an attachment: never shown inline, so its bytes cannot act as a page of this server. */
function sendFile(response: ServerResponse, name: string, bytes: Uint8Array): void {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-security-policy': 'sandbox',
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    'content-length': String(bytes.byteLength),
    'cache-control': 'no-store',
  });
  response.end(bytes);
}

/** A picture drawn from the database: an image, never a page (its own policy forbids scripts as every answer's does). */
function sendSvg(response: ServerResponse, svg: string): void {
  response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'image/svg+xml; charset=utf-8', 'cache-control': 'no-store' });
  response.end(svg);
}

/**
 * A flow's HTML report as a page of its own: sandboxed (an opaque origin that runs no script and cannot
 * read this server's pages or token), with the inline styles and data images the report is made of.
 */
function sendReport(response: ServerResponse, bytes: Buffer): void {
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-security-policy': "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(bytes.byteLength),
    'cache-control': 'no-store',
  });
  response.end(bytes);
}

function sendAsset(response: ServerResponse, asset: WebAsset): void {
  response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache' });
  response.end(asset.body);
}

/** A POST body: empty, or a JSON object of at most 64 KiB. */
async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'UI_BODY', 'the request body is over 64 KiB');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'CLI_USAGE', 'the request body is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'CLI_USAGE', 'the request body is not a JSON object');
  return value as Record<string, unknown>;
}
