// A batch or file row is untrusted input like every row: a manifest of the wrong shape is reported as a
// corrupt artifact, never handed on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlFlowStore } from '../../src/stores/sql/sql-flow-store.js';
import { hashOf } from '../helpers/events.js';
import { templatePgliteStore } from '../support/pglite-template.js';

describe('manifests read from the artifact table', () => {
  let store: SqlFlowStore;
  beforeAll(async () => {
    store = await templatePgliteStore();
  });
  afterAll(() => store.close());

  const insert = async (label: string, form: 'batch' | 'file', manifest: unknown): Promise<string> => {
    const hash = hashOf(label);
    await store.executor.query(`INSERT INTO workflow_step_artifacts (hash, kind, form, manifest) VALUES ($1, 'test/x', $2, $3::jsonb)`, [
      hash,
      form,
      JSON.stringify(manifest),
    ]);
    return hash;
  };
  const chunk = { hash: hashOf('chunk'), rows: 2, bytes: 9 };

  it('reads a well-formed batch and file manifest back as they were written', async () => {
    const batch = await insert('good batch', 'batch', { rowsField: 'rows', header: { a: 1 }, rowCount: 2, chunks: [chunk] });
    const file = await insert('good file', 'file', { size: 12, name: 'x.sdf' });
    expect(await store.getArtifacts([batch, file])).toEqual([
      { form: 'batch', kind: 'test/x', hash: batch, manifest: { rowsField: 'rows', header: { a: 1 }, rowCount: 2, chunks: [chunk] } },
      { form: 'file', kind: 'test/x', hash: file, size: 12, name: 'x.sdf' },
    ]);
  });

  it('reads slices of chunks back: a shard passing its rows on, from the first row or further in', async () => {
    const first = { rowsField: 'rows', header: {}, rowCount: 1, chunks: [chunk] };
    const later = { ...first, offset: 1 };
    const [a, b] = [await insert('slice at 0', 'batch', first), await insert('slice at 1', 'batch', later)];
    expect((await store.getArtifacts([a, b])).map((x) => ('manifest' in x ? x.manifest : null))).toEqual([first, later]);
  });

  it.each([
    ['a row count beyond its chunks', 'batch', { rowsField: null, header: {}, rowCount: 3, chunks: [chunk] }],
    ['a slice reaching past its chunks', 'batch', { rowsField: null, header: {}, offset: 1, rowCount: 2, chunks: [chunk] }],
    ['a negative offset', 'batch', { rowsField: null, header: {}, offset: -1, rowCount: 1, chunks: [chunk] }],
    ['a chunk that is not named by a hash', 'batch', { rowsField: null, header: {}, rowCount: 2, chunks: [{ ...chunk, hash: '../../etc/passwd' }] }],
    ['no chunk list', 'batch', { rowsField: null, header: {}, rowCount: 0 }],
    ['a header that is not an object', 'batch', { rowsField: 'rows', header: [1], rowCount: 0, chunks: [] }],
    ['a file without a name', 'file', { size: 3 }],
    ['a negative file size', 'file', { size: -1, name: 'x' }],
  ] as const)('refuses %s (ARTIFACT_INTEGRITY, part manifest)', async (label, form, manifest) => {
    const hash = await insert(label, form, manifest);
    await expect(store.getArtifacts([hash])).rejects.toMatchObject({ code: 'ARTIFACT_INTEGRITY', expectedHash: hash, part: 'manifest' });
  });
});
