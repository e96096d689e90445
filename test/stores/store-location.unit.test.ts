import { describe, expect, it } from 'vitest';
import { InvalidStoreLocationError } from '../../src/core/errors.js';
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
});
