import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from './cli-error.js';

/** What the server exposes: the text of `/metrics` and its content type. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface MetricsServer {
  /** The port listened on (the one the system chose when asked for 0). */
  readonly port: number;
  /** Stops listening and drops open connections (a scraper's keep-alive must not hold the exit). */
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text) on `port` of every interface, 0 meaning any free port.
 * A port that cannot be listened on (in use, or privileged) is a `UsageError`.
 */
export async function startMetricsServer(port: number, source: MetricsSource): Promise<MetricsServer> {
  const server = createServer((request, response) => void respond(source, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`Cannot serve metrics on port ${port}: ${listenProblem(error)}`, 'choose another --metrics-port (0 picks a free one)');
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function respond(source: MetricsSource, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (path !== '/metrics') {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are on /metrics\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
    return;
  }
  try {
    const body = await source.metrics();
    response.writeHead(200, { 'content-type': source.contentType });
    response.end(request.method === 'HEAD' ? undefined : body);
  } catch (error) {
    response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`Cannot collect metrics: ${(error as Error).message}\n`);
  }
}

function listenProblem(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return 'the port is in use by another process';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    default:
      return error.message;
  }
}
