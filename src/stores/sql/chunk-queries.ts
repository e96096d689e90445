import { Buffer } from 'node:buffer';
import type { SqlQuery } from './executor.js';

/** Stores a chunk once: a second writer of the same bytes changes nothing (migrations/0010_batch_artifacts). */
export function putChunkQuery(hash: string, bytes: Uint8Array): SqlQuery {
  return { text: 'INSERT INTO artifact_chunks (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING', values: [hash, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)] };
}

export function getChunkQuery(hash: string): SqlQuery {
  return { text: 'SELECT bytes FROM artifact_chunks WHERE hash = $1', values: [hash] };
}

export function hasChunkQuery(hash: string): SqlQuery {
  return { text: 'SELECT EXISTS (SELECT 1 FROM artifact_chunks WHERE hash = $1) AS present', values: [hash] };
}

/** A page of stored hashes after `after`, in order (the primary key): no listing holds them all. */
export function listChunksQuery(after: string, limit: number): SqlQuery {
  return { text: 'SELECT hash FROM artifact_chunks WHERE hash > $1 ORDER BY hash LIMIT $2::int', values: [after, limit] };
}

/** Refused by the table's trigger while a stored batch still names the chunk. */
export function removeChunkQuery(hash: string): SqlQuery {
  return { text: 'DELETE FROM artifact_chunks WHERE hash = $1', values: [hash] };
}
