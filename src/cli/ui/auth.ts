import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** A fresh token for one start of the server: 32 random bytes, URL-safe. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Is `host` a loopback address or name (127.0.0.0/8, ::1, localhost)? */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** Compares two tokens in constant time. */
export function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token of a request: `Authorization: Bearer …`, else (for pages and the event stream, which cannot set headers) `?token=`. */
export function requestToken(request: IncomingMessage, url: URL, allowQuery: boolean): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  return allowQuery ? (url.searchParams.get('token') ?? undefined) : undefined;
}

/**
 * The `Host` names the server answers to: the address it listens on with its port and, on loopback,
 * `localhost` and `127.0.0.1`. Any other Host (a DNS-rebinding page) is refused.
 */
export function allowedHosts(host: string, port: number): Set<string> {
  const hosts = new Set<string>();
  const add = (name: string): void => {
    hosts.add(`${name}:${port}`.toLowerCase());
  };
  add(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
  if (isLoopback(host)) for (const name of ['localhost', '127.0.0.1', '[::1]']) add(name);
  return hosts;
}

/**
 * An `Origin` is acceptable when absent (not a browser's cross-site request), one of the server's own
 * names, or the `Host` the request was sent to (a page of this server reached by another name).
 */
export function originAllowed(origin: string | undefined, hosts: ReadonlySet<string>, host: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    const url = new URL(origin);
    const named = url.host.toLowerCase();
    return url.protocol === 'http:' && (hosts.has(named) || named === host?.toLowerCase());
  } catch {
    return false;
  }
}
