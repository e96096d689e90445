import { describe, expect, it } from 'vitest';
import { allowedHosts, isLoopback, newToken, originAllowed, sameToken } from '../../src/cli/ui/auth.js';
import { errorSearch, flowsQuery } from '../../src/cli/ui/api.js';
import { HttpError } from '../../src/cli/ui/http-errors.js';

describe('chemflow ui authorisation', () => {
  it('tells loopback addresses from the others', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.org', '128.0.0.1']) expect(isLoopback(host), host).toBe(false);
  });

  it('answers on loopback to its own names only, and takes an Origin of those names or of the Host asked', () => {
    const hosts = allowedHosts('127.0.0.1', 4173);
    expect([...hosts].sort()).toEqual(['127.0.0.1:4173', '[::1]:4173', 'localhost:4173']);
    expect(originAllowed(undefined, hosts, '127.0.0.1:4173')).toBe(true);
    expect(originAllowed('http://localhost:4173', hosts, '127.0.0.1:4173')).toBe(true);
    expect(originAllowed('http://evil.example', hosts, '127.0.0.1:4173')).toBe(false);
    expect(originAllowed('http://127.0.0.1:9999', hosts, '127.0.0.1:4173')).toBe(false);
    expect(originAllowed('null', hosts, '127.0.0.1:4173')).toBe(false);
    expect(originAllowed('http://10.0.0.2:4173', allowedHosts('0.0.0.0', 4173), '10.0.0.2:4173')).toBe(true);
  });

  it('makes a new URL-safe token at every start and compares tokens exactly', () => {
    const a = newToken();
    expect(a).toMatch(/^[\w-]{43}$/);
    expect(newToken()).not.toBe(a);
    expect(sameToken(a, a)).toBe(true);
    expect(sameToken(`${a}x`, a)).toBe(false);
    expect(sameToken(undefined, a)).toBe(false);
  });
});

describe('chemflow ui query parameters', () => {
  it('reads the flows filters as `chemflow flows` takes them', () => {
    expect(flowsQuery(new URLSearchParams('status=failed&status=running,waiting&name=x&limit=10&after=abc'))).toEqual({
      status: ['failed', 'running', 'waiting'],
      name: 'x',
      limit: 10,
      after: 'abc',
    });
    expect(flowsQuery(new URLSearchParams(''))).toEqual({});
    expect(flowsQuery(new URLSearchParams('since=2026-01-31&until=2026-02-01T12:00:00%2B01:00&class=Runtime&sort=oldest'))).toEqual({
      since: '2026-01-31T00:00:00.000Z',
      until: '2026-02-01T11:00:00.000Z',
      errorClass: 'Runtime',
      sort: 'oldest',
    });
    expect(flowsQuery(new URLSearchParams('since=&class=&sort='))).toEqual({});
    for (const bad of ['status=done', 'limit=0', 'limit=1001', 'limit=2.5', 'class=runtime', 'since=soon', 'until=2026-13-45', 'sort=duration'])
      expect(() => flowsQuery(new URLSearchParams(bad)), bad).toThrow(HttpError);
  });

  it('reads the error filters, times as ISO 8601', () => {
    expect(errorSearch(new URLSearchParams('class=Transient&code=BUSY&step=s&flow=f&since=2026-01-31&before=42'))).toEqual({
      errorClass: 'Transient',
      code: 'BUSY',
      stepId: 's',
      flowName: 'f',
      since: '2026-01-31T00:00:00.000Z',
      before: 42,
    });
    for (const bad of ['class=Fatal', 'since=yesterday', 'before=-1', 'before=x']) expect(() => errorSearch(new URLSearchParams(bad)), bad).toThrow(HttpError);
  });
});
