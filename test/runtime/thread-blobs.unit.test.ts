// A step thread's blob store when the engine's has no directory: every read and write asked of the
// parent by message, with the parent's errors rebuilt as the types readers check for.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256OfBytes } from '../../src/core/chunk.js';
import { ArtifactIntegrityError, BlobNotFoundError } from '../../src/core/errors.js';
import { batchInputOf, openBatchOutput } from '../../src/runtime/step-data-io.js';
import { answerBlobRequest, blobsInThread, settleBlobReply, threadBlobsOf, type BlobReply, type BlobRequest, type PendingBlobReplies } from '../../src/runtime/thread-blobs.js';
import { FsBlobStore } from '../../src/stores/blobs/fs-blob-store.js';
import { MemoryBlobStore } from '../../src/stores/blobs/memory-blob-store.js';

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

/** The thread's side on port1, the parent's (answering from `parent`) on port2. */
function connect(parent: MemoryBlobStore) {
  const channel = new MessageChannel();
  channels.push(channel);
  const pending: PendingBlobReplies = { next: 1, waiting: new Map() };
  channel.port1.on('message', (reply: BlobReply) => settleBlobReply(pending, reply));
  channel.port2.on('message', (request: BlobRequest) => {
    void answerBlobRequest(parent, request).then(({ reply, transfer }) => channel.port2.postMessage(reply, transfer));
  });
  const spec = threadBlobsOf(parent);
  expect(spec.kind).toBe('parent');
  return blobsInThread(spec, channel.port1, 1, pending);
}

describe('blobs of a step thread through its parent', () => {
  it('puts, gets and copies bytes the parent store keeps', async () => {
    const parent = new MemoryBlobStore();
    const blobs = connect(parent);
    const bytes = new TextEncoder().encode('{"a":1}\n{"a":2}');
    const hash = await blobs.put(bytes);
    expect(hash).toBe(sha256OfBytes(bytes));
    expect(bytes.byteLength).toBe(15); // the caller's bytes are not detached by the transfer
    expect(await parent.has(hash)).toBe(true);
    expect(new TextDecoder().decode(await blobs.get(hash))).toBe('{"a":1}\n{"a":2}');
    expect(await blobs.has(hash)).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'chemflow-thread-blobs-'));
    try {
      await blobs.copyTo(hash, join(dir, 'copy'));
      expect(await readFile(join(dir, 'copy'), 'utf8')).toBe('{"a":1}\n{"a":2}');
      await writeFile(join(dir, 'file'), 'CCO');
      expect(await blobs.putFile(join(dir, 'file'))).toEqual({ hash: sha256OfBytes(new TextEncoder().encode('CCO')), size: 3 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads and writes a batch chunk by chunk, as a step in a thread does', async () => {
    const parent = new MemoryBlobStore();
    const blobs = connect(parent);
    const writer = openBatchOutput('test/rows', { rowsField: 'rows', header: { unit: 'u' } }, blobs, { maxRows: 2, maxBytes: 1 << 20 });
    await writer.pushAll([{ i: 1 }, { i: 2 }, { i: 3 }]);
    const batch = await writer.close();
    const rows = [];
    for await (const row of batchInputOf(batch, blobs).rows()) rows.push(row);
    expect(rows).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
    expect(batch.manifest.chunks).toHaveLength(2);
  });

  it('rebuilds a missing blob as BlobNotFoundError and a tampered one as ArtifactIntegrityError', async () => {
    const parent = new MemoryBlobStore();
    const blobs = connect(parent);
    await expect(blobs.get('a'.repeat(64))).rejects.toBeInstanceOf(BlobNotFoundError);
    const hash = await parent.put(new TextEncoder().encode('good'));
    parent.tamper(hash, new TextEncoder().encode('bad'));
    const error = await blobs.get(hash).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactIntegrityError);
    expect((error as ArtifactIntegrityError).actualHash).toBe(sha256OfBytes(new TextEncoder().encode('bad')));
  });

  it('opens the directory itself when the store has one', () => {
    const spec = threadBlobsOf(new FsBlobStore('/tmp/blobs-here'));
    expect(spec).toMatchObject({ kind: 'directory', directory: '/tmp/blobs-here' });
    expect(blobsInThread(spec, { postMessage: () => undefined }, 1, { next: 1, waiting: new Map() })).toBeInstanceOf(FsBlobStore);
  });
});
