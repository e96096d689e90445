import { describe, expect, it } from 'vitest';
import { InvalidDatabaseUrlError, InvalidStoreLocationError } from '../../src/core/errors.js';
import { storeLocationKind } from '../../src/stores/store-location.js';

describe('store locations', () => {
  it('names the stores chemflow has', () => {
    expect(storeLocationKind('memory')).toBe('memory');
    expect(storeLocationKind('pglite-memory')).toBe('pglite-memory');
    expect(storeLocationKind('memory://pglite')).toBe('pglite-memory');
    expect(storeLocationKind('postgres://u:p@h:5432/db')).toBe('postgres');
    expect(storeLocationKind('postgresql://h/db')).toBe('postgres');
    expect(storeLocationKind('./.chemflow')).toBe('pglite-directory');
    expect(storeLocationKind('/var/lib/chemflow')).toBe('pglite-directory');
    expect(storeLocationKind('C:\\chemflow')).toBe('pglite-directory');
  });

  it('rejects a URL of any other scheme, repeating only the scheme (never a password)', () => {
    for (const [location, scheme] of [
      ['postgress://u:secret@h/db', 'postgress'],
      ['mysql://localhost/db', 'mysql'],
      ['file:///tmp/db', 'file'],
      ['pg://h/db', 'pg'],
      ['://h/db', ''],
    ] as const) {
      let caught: unknown;
      try {
        storeLocationKind(location);
      } catch (error) {
        caught = error;
      }
      expect(caught, location).toBeInstanceOf(InvalidStoreLocationError);
      expect((caught as InvalidStoreLocationError).scheme).toBe(scheme);
      expect((caught as Error).message).not.toContain('secret');
      expect((caught as Error).message).toContain('postgres://');
    }
  });

  it.each([
    ['postgres://x:secret@host:notaport/db', /does not parse as a URL .*port/],
    ['postgresql://u:secret@h:99999/db', /does not parse as a URL/],
    ['postgres://%zz', /host holds a "%"/],
  ])('rejects the malformed PostgreSQL URL %s before any connection, never repeating it', (location, reason) => {
    let caught: unknown;
    try {
      storeLocationKind(location);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidDatabaseUrlError);
    expect((caught as Error).message).toMatch(reason);
    expect((caught as Error).message).not.toContain('secret');
  });

  it('takes the PostgreSQL URLs the driver reads: a socket directory as host, a bare % in a password', () => {
    expect(storeLocationKind('postgres://%2Fvar%2Frun%2Fpostgresql/db')).toBe('postgres');
    expect(storeLocationKind('postgres://u:100%@h/db')).toBe('postgres');
    expect(storeLocationKind('postgres:///db')).toBe('postgres');
    expect(storeLocationKind('postgres://[::1]:5432/db?options=-c%20search_path%3Dx')).toBe('postgres');
  });
});
