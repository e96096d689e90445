import { describe, expect, it } from 'vitest';
import { isCi } from './ci.js';
import { pgVerdict } from './pg-url.js';

describe('the CI rule of the test helpers', () => {
  it('reads CI as unset when it is missing, empty, 0 or false (any case, any spaces)', () => {
    for (const value of ['', ' ', '0', 'false', 'FALSE', ' False ']) expect(isCi(value), JSON.stringify(value)).toBe(false);
  });

  it('reads a missing CI as unset', () => {
    const saved = process.env.CI;
    delete process.env.CI;
    try {
      expect(isCi()).toBe(false);
    } finally {
      if (saved !== undefined) process.env.CI = saved;
    }
  });

  it('reads any other value as CI', () => {
    for (const value of ['true', '1', 'yes', 'TRUE', 'github-actions']) expect(isCi(value), value).toBe(true);
  });
});

describe('the PostgreSQL availability rule', () => {
  const refused = new Error('connect ECONNREFUSED 127.0.0.1:5432');

  it('runs the tests when the server answers, CI or not', () => {
    expect(pgVerdict(null, false)).toEqual({ available: true, skipReason: null });
    expect(pgVerdict(null, true)).toEqual({ available: true, skipReason: null });
  });

  it('skips with the reason and the URL when the server is away and CI is not set', () => {
    const verdict = pgVerdict(refused, false, 'postgres://u@h:1/db');
    expect(verdict.available).toBe(false);
    expect(verdict.skipReason).toContain('PostgreSQL is not reachable at postgres://u@h:1/db: connect ECONNREFUSED');
    expect(verdict.skipReason).toContain('CHEMFLOW_TEST_PG_URL');
  });

  it('never shows a password from the URL', () => {
    expect(pgVerdict(refused, false, 'postgres://u:secret@h:1/db').skipReason).toContain('postgres://u:***@h:1/db');
  });

  it('fails when the server is away and CI is set', () => {
    expect(() => pgVerdict(refused, true)).toThrow(/not reachable.*CI is set/);
  });
});
