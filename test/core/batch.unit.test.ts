import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrame, batchHashOf, batchPayload, batchShapeOf, BatchHasher, type ChunkRef } from '../../src/core/batch.js';
import type { JsonObject, JsonValue } from '../../src/core/canonical-json.js';
import { BatchWriter, decodeChunk } from '../../src/core/chunk.js';
import { hashCanonical } from '../../src/core/hash.js';

const row = fc.record({
  inchikey: fc.string({ minLength: 1, maxLength: 12 }),
  mw: fc.double({ noNaN: true, noDefaultInfinity: true }),
  line: fc.nat(),
  note: fc.oneof(fc.constant(null), fc.string({ maxLength: 8 }), fc.constant('a\nb')),
});
const header = fc.dictionary(fc.constantFrom('source', 'decimals', 'zeta', 'a', 'molecules2'), fc.oneof(fc.string(), fc.nat()));

/** Writes rows through a BatchWriter with these chunk limits into a map, and returns hash, manifest and the map. */
async function written(rowsField: string | null, head: JsonObject | undefined, rows: JsonValue[], maxRows: number, atClose?: JsonObject) {
  const blobs = new Map<string, Uint8Array>();
  const writer = new BatchWriter(
    rowsField,
    head,
    {
      put: (bytes: Uint8Array, ref: ChunkRef) => Promise.resolve(void blobs.set(ref.hash, bytes)),
      get: (ref: ChunkRef) => Promise.resolve(blobs.get(ref.hash) as Uint8Array),
    },
    { maxRows, maxBytes: 1 << 30 },
  );
  for (const r of rows) await writer.push(r);
  return { ...(await writer.close(atClose)), blobs };
}

describe('batch hashing', () => {
  it('equals the hash of the payload held whole, for any chunking, header and rows field', async () => {
    await fc.assert(
      fc.asyncProperty(header, fc.array(row, { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), fc.boolean(), async (head, rows, maxRows, late) => {
        const rowsField = 'molecules';
        const payload = batchPayload({ rowsField, header: head }, rows);
        const { hash, manifest, blobs } = await written(rowsField, late ? undefined : head, rows, maxRows, late ? head : undefined);
        expect(hash).toBe(hashCanonical(payload));
        expect(manifest.rowCount).toBe(rows.length);
        expect(manifest.chunks.map((c) => c.rows).reduce((a, b) => a + b, 0)).toBe(rows.length);
        expect(manifest.chunks.flatMap((c) => decodeChunk(blobs.get(c.hash) as Uint8Array))).toEqual(
          JSON.parse(JSON.stringify(rows)) as JsonValue[],
        );
      }),
    );
  });

  it('hashes a list payload, and the empty list, as the whole list', async () => {
    for (const rows of [[], [1], [1, 'two', { three: 3 }]] as JsonValue[][]) {
      const { hash } = await written(null, {}, rows, 2);
      expect(hash).toBe(hashCanonical(rows));
      expect(batchHashOf({ rowsField: null, header: {} }, rows)).toBe(hashCanonical(rows));
    }
  });

  it('gives the same hash from re-read chunks as from rows, whatever the chunks', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({ i, s: `row ${i}` }));
    const shape = { rowsField: 'rows', header: { decimals: 2 } };
    for (const maxRows of [1, 4, 25, 100]) {
      const { manifest, blobs } = await written('rows', shape.header, rows, maxRows);
      const hasher = new BatchHasher(shape);
      for (const chunk of manifest.chunks) hasher.addChunk(blobs.get(chunk.hash) as Uint8Array, chunk.rows);
      expect(hasher.digest()).toBe(hashCanonical({ decimals: 2, rows }));
    }
  });

  it('places the rows among the header fields in canonical key order', () => {
    expect(batchFrame({ rowsField: 'molecules', header: { source: 'x.csv', a: 1 } })).toEqual({
      prefix: '{"a":1,"molecules":[',
      suffix: '],"source":"x.csv"}',
    });
  });

  it('finds the one list of a payload, and nothing when there are none or several', () => {
    expect(batchShapeOf({ source: 's', molecules: [1, 2] })).toEqual({ shape: { rowsField: 'molecules', header: { source: 's' } }, rows: [1, 2] });
    expect(batchShapeOf([1])).toEqual({ shape: { rowsField: null, header: {} }, rows: [1] });
    expect(batchShapeOf({ a: [1], b: [2] })).toBeUndefined();
    expect(batchShapeOf({ a: 1 })).toBeUndefined();
    expect(batchShapeOf({ a: [1], b: [2] }, 'b')).toEqual({ shape: { rowsField: 'b', header: { a: [1] } }, rows: [2] });
  });

  it('refuses a header given twice or never', async () => {
    await expect(written('rows', { a: 1 }, [1], 2, { a: 1 })).rejects.toThrow(/given when it was opened/);
    await expect(written('rows', undefined, [1], 2)).rejects.toThrow(/must be given to close/);
  });
});
