import type { MessagePort, Transferable } from 'node:worker_threads';
import { ArtifactIntegrityError, BlobNotFoundError } from '../core/errors.js';
import type { BlobStore } from '../stores/blobs/blob-store.js';
import { FsBlobStore } from '../stores/blobs/fs-blob-store.js';

/**
 * How a step thread reaches the blob store of the engine that sent it a task: the same directory,
 * opened by the thread itself, when the store has one; else each read and write is asked of the
 * parent thread by message (the bytes transferred, not copied). Only manifests travel with a task.
 */
export type ThreadBlobs = { kind: 'directory'; directory: string; location: string; keepsFiles: boolean } | { kind: 'parent'; location: string; keepsFiles: boolean };

/** What a thread is told of `blobs` with a task. */
export function threadBlobsOf(blobs: BlobStore): ThreadBlobs {
  return blobs.directory === null
    ? { kind: 'parent', location: blobs.location, keepsFiles: blobs.keepsFiles }
    : { kind: 'directory', directory: blobs.directory, location: blobs.location, keepsFiles: blobs.keepsFiles };
}

/** A blob request of a thread to its parent, for the task `id`. */
export type BlobRequest = { type: 'blob'; id: number; request: number } & BlobOp;

type BlobOp =
  | { op: 'get'; hash: string }
  | { op: 'put'; bytes: Uint8Array; hash: string | undefined }
  | { op: 'putFile'; path: string }
  | { op: 'copyTo'; hash: string; path: string }
  | { op: 'has'; hash: string };

interface ErrorShape {
  code: string | null;
  message: string;
  hash: string | null;
  actualHash: string | null;
  location: string | null;
}

/** The parent's answer to a `BlobRequest`. */
export type BlobReply = { type: 'blob-reply'; request: number } & ({ ok: true; value: unknown } | { ok: false; error: ErrorShape });

/** Answers a thread's request from `blobs` (null: the task it came from has ended). */
export async function answerBlobRequest(blobs: BlobStore | null, message: BlobRequest): Promise<{ reply: BlobReply; transfer: Transferable[] }> {
  try {
    if (blobs === null) throw new Error('the attempt that asked for this blob has ended');
    let value: unknown;
    const transfer: Transferable[] = [];
    switch (message.op) {
      case 'get': {
        const bytes = await blobs.get(message.hash);
        // Its own buffer, so the transfer detaches nothing another reader holds.
        const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.from(bytes);
        transfer.push(own.buffer as ArrayBuffer);
        value = own;
        break;
      }
      case 'put':
        value = await blobs.put(message.bytes, message.hash);
        break;
      case 'putFile':
        value = await blobs.putFile(message.path);
        break;
      case 'copyTo':
        await blobs.copyTo(message.hash, message.path);
        value = null;
        break;
      case 'has':
        value = await blobs.has(message.hash);
        break;
    }
    return { reply: { type: 'blob-reply', request: message.request, ok: true, value }, transfer };
  } catch (error) {
    const e = error as Error & { code?: unknown; expectedHash?: string; hash?: string; actualHash?: string | null; location?: string };
    const shape: ErrorShape = {
      code: typeof e.code === 'string' ? e.code : null,
      message: e.message,
      hash: e.expectedHash ?? e.hash ?? null,
      actualHash: e.actualHash ?? null,
      location: e.location ?? null,
    };
    return { reply: { type: 'blob-reply', request: message.request, ok: false, error: shape }, transfer: [] };
  }
}

/** The thread's blob store for a task: the directory opened here, or the parent asked by message. */
export function blobsInThread(spec: ThreadBlobs, port: Pick<MessagePort, 'postMessage'>, taskId: number, pending: PendingBlobReplies): BlobStore {
  if (spec.kind === 'directory') return new FsBlobStore(spec.directory);
  const ask = <T>(request: BlobOp, transfer: Transferable[] = []): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const number = pending.next++;
      pending.waiting.set(number, { resolve: resolve as (value: unknown) => void, reject });
      port.postMessage({ type: 'blob', id: taskId, request: number, ...request }, transfer);
    });
  return {
    location: spec.location,
    directory: null,
    keepsFiles: spec.keepsFiles,
    put: (bytes, hash) => {
      const own = Uint8Array.from(bytes); // transferred: the caller keeps its own bytes
      return ask<string>({ op: 'put', bytes: own, hash }, [own.buffer]);
    },
    get: (hash) => ask<Uint8Array>({ op: 'get', hash }),
    putFile: (path) => ask<{ hash: string; size: number }>({ op: 'putFile', path }),
    copyTo: (hash, path) => ask<void>({ op: 'copyTo', hash, path }),
    has: (hash) => ask<boolean>({ op: 'has', hash }),
    list: () => {
      throw new Error('a step thread does not list the blob store');
    },
    remove: () => Promise.reject(new Error('a step thread does not remove blobs')),
  };
}

/** The blob requests of a thread awaiting their replies. */
export interface PendingBlobReplies {
  next: number;
  waiting: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;
}

/** Settles the request a reply answers, with the parent's error rebuilt as the type readers check for. */
export function settleBlobReply(pending: PendingBlobReplies, reply: BlobReply): void {
  const waiter = pending.waiting.get(reply.request);
  if (waiter === undefined) return;
  pending.waiting.delete(reply.request);
  if (reply.ok) {
    waiter.resolve(reply.value);
    return;
  }
  const { code, message, hash, actualHash, location } = reply.error;
  if (code === 'BLOB_NOT_FOUND' && hash !== null) waiter.reject(new BlobNotFoundError(hash, location ?? 'the parent thread'));
  else if (code === 'ARTIFACT_INTEGRITY' && hash !== null) waiter.reject(new ArtifactIntegrityError(hash, actualHash, null, 'blob'));
  else waiter.reject(Object.assign(new Error(message), code === null ? {} : { code }));
}
