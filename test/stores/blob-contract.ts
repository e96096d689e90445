// Batch and file artifacts on every store: the rows of a batch and the bytes of a file go to the
// store's blob store, the artifact row keeps the manifest, and every read is verified.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBatchArtifact, isFileArtifact, type FileArtifact, type StoredArtifact } from '../../src/core/artifact.js';
import { batchHashOf, type BatchShape } from '../../src/core/batch.js';
import type { JsonValue } from '../../src/core/canonical-json.js';
import { DEFAULT_CHUNK_LIMITS, encodeChunk, sha256OfBytes } from '../../src/core/chunk.js';
import { BlobDirRequiredError } from '../../src/core/errors.js';
import { batchInputOf, fileInputOf, openBatchOutput, storeFileOutput } from '../../src/runtime/step-data-io.js';
import { FsBlobStore } from '../../src/stores/blobs/fs-blob-store.js';
import { collectGarbage } from '../../src/stores/collect-garbage.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { artifactOf, flowInitialized, stepFinished, stepStarted } from '../helpers/events.js';
import { tamperBlob } from '../helpers/tamper.js';

export interface BlobContractStore {
  store: FlowStore;
  close(): Promise<void>;
}

export interface BlobContractOptions {
  /** Whether the store keeps file artifacts (it has a blob directory, or is the memory store). */
  keepsFiles: boolean;
}

const LARGE_BATCH_ROWS = 2_000_000;
const SMALL_CHUNKS = { maxRows: 10, maxBytes: 1024 * 1024 };

function* numberedRows(count: number): Generator<JsonValue> {
  for (let i = 0; i < count; i++) yield { i };
}

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const row of rows) all.push(row);
  return all;
}

export function describeBlobContract(name: string, open: () => Promise<BlobContractStore>, options: BlobContractOptions): void {
  describe(`batch and file artifacts: ${name}`, () => {
    let subject: BlobContractStore;
    let store: FlowStore;
    let workDir: string;
    beforeAll(async () => {
      subject = await open();
      store = subject.store;
      workDir = await mkdtemp(join(tmpdir(), 'chemflow-blob-contract-'));
    });
    afterAll(async () => {
      await subject?.close();
      if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
    });

    /** Appends a flow whose first step finished with these outputs; returns the flow id. */
    async function finish(outputs: readonly StoredArtifact[]): Promise<string> {
      const flowId = randomUUID();
      await store.append(flowId, 0, [flowInitialized(), stepStarted(0), stepFinished(0, outputs.map((o) => o.hash))], {
        artifacts: outputs,
      });
      return flowId;
    }

    /** A small batch of its own rows (no chunk shared with another test), three chunks of ten. */
    async function smallBatch(tag = randomUUID()) {
      const writer = openBatchOutput('test/rows', { rowsField: null, header: {} }, store.blobs, SMALL_CHUNKS);
      for (let i = 0; i < 30; i++) await writer.push({ i, tag });
      return writer.close();
    }

    it(`stores a batch of ${LARGE_BATCH_ROWS.toLocaleString('en')} rows in chunks and streams it back, its hash that of the payload`, async () => {
      const shape: BatchShape = { rowsField: 'rows', header: { source: 'contract', run: randomUUID() } };
      const writer = openBatchOutput('test/rows', { rowsField: 'rows', header: shape.header, metadata: { label: 'large' } }, store.blobs);
      for (const row of numberedRows(LARGE_BATCH_ROWS)) await writer.push(row);
      const batch = await writer.close();
      expect(batch.hash).toBe(batchHashOf(shape, numberedRows(LARGE_BATCH_ROWS)));
      await finish([batch]);

      const [read] = await store.getArtifacts([batch.hash]);
      expect(read).toEqual(batch);
      if (read === undefined || !isBatchArtifact(read)) throw new Error('the batch did not come back as a batch');
      expect(read.manifest.rowCount).toBe(LARGE_BATCH_ROWS);
      expect(read.manifest.chunks).toHaveLength(LARGE_BATCH_ROWS / DEFAULT_CHUNK_LIMITS.maxRows);
      // Streamed: one chunk in memory at a time, each row compared as it comes.
      const input = batchInputOf(read, store.blobs);
      let count = 0;
      let firstWrong: JsonValue | undefined;
      for await (const row of input.rows()) {
        const ok = typeof row === 'object' && row !== null && !Array.isArray(row) && row.i === count && Object.keys(row).length === 1;
        if (!ok && firstWrong === undefined) firstWrong = row;
        count++;
      }
      expect(firstWrong).toBeUndefined();
      expect(count).toBe(LARGE_BATCH_ROWS);
      expect(input.header).toEqual(shape.header);
    }, 180_000);

    it('refuses a batch whose stored chunk was changed, naming the chunk', async () => {
      const batch = await smallBatch();
      await finish([batch]);
      const [read] = await store.getArtifacts([batch.hash]);
      if (read === undefined || !isBatchArtifact(read)) throw new Error('the batch did not come back as a batch');
      const chunk = read.manifest.chunks[1];
      if (chunk === undefined) throw new Error('expected three chunks');
      // Same number of rows, one value changed: only the hashes can tell.
      const changed = encodeChunk(Array.from({ length: 10 }, (_, k) => JSON.stringify({ i: 10 + k, tag: k === 3 ? 'changed' : 'x' })));
      await tamperBlob(store, chunk.hash, changed);
      await expect(store.blobs.get(chunk.hash)).rejects.toMatchObject({
        code: 'ARTIFACT_INTEGRITY',
        expectedHash: chunk.hash,
        actualHash: sha256OfBytes(changed),
        part: 'blob',
      });
      await expect(collect(batchInputOf(read, store.blobs).rows())).rejects.toMatchObject({
        code: 'ARTIFACT_INTEGRITY',
        expectedHash: batch.hash,
        part: `chunk 1 (${chunk.hash})`,
      });
      await expect(batchInputOf(read, store.blobs).whole()).rejects.toMatchObject({ code: 'ARTIFACT_INTEGRITY' });
    });

    it('keeps whole artifacts as before, beside batches, in one append', async () => {
      const whole = artifactOf({ small: randomUUID() }, { label: 'whole' });
      const batch = await smallBatch();
      await finish([whole, batch]);
      expect(await store.getArtifacts([whole.hash, batch.hash])).toEqual([whole, batch]);
    });

    if (options.keepsFiles) {
      it('round-trips a file artifact through the blob store, and refuses it once its bytes were changed', async () => {
        const text = `mol-${randomUUID()}\n  RDKit          2D\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n`;
        await writeFile(join(workDir, 'out.sdf'), text);
        const file = await storeFileOutput('chem/sdf', 'out.sdf', { metadata: { tool: 'test' } }, store.blobs, workDir);
        expect(file).toEqual({
          form: 'file',
          kind: 'chem/sdf',
          hash: sha256OfBytes(Buffer.from(text)),
          size: Buffer.byteLength(text),
          name: 'out.sdf',
          metadata: { tool: 'test' },
        });
        await finish([file]);
        const [read] = await store.getArtifacts([file.hash]);
        expect(read).toEqual(file);
        if (read === undefined || !isFileArtifact(read)) throw new Error('the file did not come back as a file');
        const input = fileInputOf(read, store.blobs, () => Promise.resolve(workDir));
        expect(Buffer.from(await input.bytes()).toString('utf8')).toBe(text);
        expect(await readFile(await input.path(), 'utf8')).toBe(text);

        await tamperBlob(store, file.hash, Buffer.from(text.replace('M  END', 'M  BAD')));
        await expect(fileInputOf(read, store.blobs, () => Promise.resolve(workDir)).bytes()).rejects.toMatchObject({
          code: 'ARTIFACT_INTEGRITY',
          expectedHash: file.hash,
          part: 'blob',
        });
        await expect(store.blobs.copyTo(file.hash, join(workDir, 'copy.sdf'))).rejects.toMatchObject({ code: 'ARTIFACT_INTEGRITY' });
      });
    } else {
      it('refuses file artifacts without a blob directory (BLOB_DIR_REQUIRED), writing nothing', async () => {
        const bytes = Buffer.from(`file-${randomUUID()}`);
        await writeFile(join(workDir, 'out.csv'), bytes);
        await expect(store.blobs.putFile(join(workDir, 'out.csv'))).rejects.toBeInstanceOf(BlobDirRequiredError);
        await expect(store.blobs.copyTo(sha256OfBytes(bytes), join(workDir, 'copy.csv'))).rejects.toMatchObject({
          code: 'BLOB_DIR_REQUIRED',
          errorClass: 'Permanent',
          message: expect.stringMatching(/--blob-dir/),
        });
        const file: FileArtifact = { form: 'file', kind: 'table/csv', hash: sha256OfBytes(bytes), size: bytes.byteLength, name: 'out.csv' };
        const flowId = randomUUID();
        await expect(store.append(flowId, 0, [flowInitialized(), stepFinished(0, [file.hash])], { artifacts: [file] })).rejects.toMatchObject({
          code: 'BLOB_DIR_REQUIRED',
        });
        const [outcome] = await store.appendBatch([{ flowId, expectedVersion: 0, events: [flowInitialized()], options: { artifacts: [file] } }]);
        expect(outcome).toMatchObject({ ok: false, error: { code: 'BLOB_DIR_REQUIRED' } });
        expect(await store.list(flowId)).toEqual([]);
      });
    }

    it('collects the blobs no artifact names (dry run first), keeping every named one', async () => {
      const kept = await smallBatch();
      await finish([kept]);
      const orphan = await store.blobs.put(encodeChunk([JSON.stringify({ orphan: randomUUID() })]));
      const fresh = await store.blobs.put(encodeChunk([JSON.stringify({ fresh: randomUUID() })]));
      const directory = store.blobs.directory;
      const hourAndMore = new Date(Date.now() - 2 * 60 * 60 * 1000);
      let staleTemp = '';
      let freshTemp = '';
      if (directory !== null) {
        // In a directory, only what is older than an hour goes: a running step may have just written the rest.
        await utimes(new FsBlobStore(directory).pathOf(orphan), hourAndMore, hourAndMore);
        staleTemp = join(directory, 'tmp', `${randomUUID()}.part`);
        freshTemp = join(directory, 'tmp', `${randomUUID()}.part`);
        await writeFile(staleTemp, 'cut short');
        await writeFile(freshTemp, 'being written');
        await utimes(staleTemp, hourAndMore, hourAndMore);
      }
      const named = await store.referencedBlobs();
      for (const chunk of kept.manifest.chunks) expect(named.has(chunk.hash)).toBe(true);
      expect(named.has(orphan)).toBe(false);

      const dry = await collectGarbage(store, { dryRun: true });
      expect(dry.dryRun).toBe(true);
      expect(dry.blobs).toContain(orphan);
      expect(await store.blobs.has(orphan)).toBe(true);
      const done = await collectGarbage(store);
      expect(done.blobs).toContain(orphan);
      expect(done.blobs.filter((hash) => named.has(hash))).toEqual([]);
      expect(await store.blobs.has(orphan)).toBe(false);
      expect(await collect(batchInputOf(kept, store.blobs).rows())).toHaveLength(30);
      if (directory !== null) {
        expect(done.blobs).not.toContain(fresh);
        expect(await store.blobs.has(fresh)).toBe(true);
        expect(done.tempFiles).toEqual([staleTemp]);
        await expect(readFile(freshTemp, 'utf8')).resolves.toBe('being written');
      } else {
        expect(done.blobs).toContain(fresh);
        expect(done.tempFiles).toEqual([]);
      }
    });
  });
}
