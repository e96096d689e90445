import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../core/errors.js';
import { FsBlobStore } from './blobs/fs-blob-store.js';
import type { FlowStore } from './flow-store.js';
import { endedWorkDirs, logBlobsAndFlows, removeWorkDir } from './command-leftovers.js';

export interface GarbageOptions {
  /** List what would be removed, remove nothing. */
  dryRun?: boolean;
  /**
   * Blobs and `tmp/*.part` files of a blob directory younger than this are kept (default one hour): a
   * step still running may have written them and not yet appended the artifact that names them.
   */
  minAgeMs?: number;
  /** The time ages are measured from (default now). */
  now?: Date;
  /**
   * Where command steps keep the directories of their failed attempts: those of flows that ended
   * (completed, failed, cancelled) are removed too. Absent: no directory is looked at.
   */
  workRoot?: string;
}

export interface GarbageReport {
  /** Blobs no stored artifact names: removed, or that would be (`dryRun`). */
  blobs: string[];
  /** Stale partial writes of a blob directory (absolute paths): removed, or that would be. */
  tempFiles: string[];
  /** Kept working directories of command steps of ended flows (absolute paths): removed, or that would be. */
  workDirs: string[];
  dryRun: boolean;
}

/** One hour: longer than any write of a blob takes, shorter than a stray file is worth keeping. */
export const DEFAULT_GARBAGE_MIN_AGE_MS = 60 * 60 * 1000;

/** A DELETE the `artifact_chunks` trigger refused: a stored batch names the chunk after all. */
const RESTRICT_VIOLATION = '23001';

/**
 * `chemflow gc`: removes the blobs of `store.blobs` that no stored artifact names (chunks of batches,
 * bytes of files) — left by attempts that wrote their outputs and then failed, or lost a race to
 * another worker — except command logs, which the log names; in a blob directory, partial writes
 * (`tmp/*.part`) left by a crash; and with `workRoot`, the kept directories of ended flows' commands.
 *
 * The blobs are listed before the names are read, so a blob whose artifact is appended meanwhile is
 * named by then; in a directory, blobs younger than `minAgeMs` are kept for the attempts still running,
 * and in the database the table's trigger refuses to delete a chunk a stored batch names.
 */
export async function collectGarbage(store: FlowStore, options: GarbageOptions = {}): Promise<GarbageReport> {
  const dryRun = options.dryRun === true;
  const minAgeMs = options.minAgeMs ?? DEFAULT_GARBAGE_MIN_AGE_MS;
  const cutoff = (options.now ?? new Date()).getTime() - minAgeMs;
  const { blobs } = store;
  const listed: string[] = [];
  for await (const hash of blobs.list()) listed.push(hash);
  const named = await store.referencedBlobs();
  // Command logs are file blobs no artifact row names: the log keeps them alive.
  const { logs, flows } = await logBlobsAndFlows(store);
  for (const hash of logs) named.add(hash);
  const directory = blobs.directory;
  // A blob store with a directory keeps `FsBlobStore`'s layout: the age of a blob is its file's.
  const files = directory === null ? null : new FsBlobStore(directory);
  const garbage: string[] = [];
  for (const hash of listed) {
    if (named.has(hash)) continue;
    if (files !== null && !(await olderThan(files.pathOf(hash), cutoff))) continue;
    if (!dryRun && !(await removed(() => blobs.remove(hash)))) continue;
    garbage.push(hash);
  }
  const tempFiles = directory === null ? [] : await staleTempFiles(join(directory, 'tmp'), cutoff);
  if (!dryRun) for (const path of tempFiles) await rm(path, { force: true });
  const workDirs = options.workRoot === undefined ? [] : await endedWorkDirs(options.workRoot, flows, cutoff);
  if (!dryRun) for (const dir of workDirs) await removeWorkDir(dir);
  return { blobs: garbage, tempFiles, workDirs, dryRun };
}

async function removed(remove: () => Promise<void>): Promise<boolean> {
  try {
    await remove();
    return true;
  } catch (error) {
    if (error instanceof StoreError && error.sqlState === RESTRICT_VIOLATION) return false;
    throw error;
  }
}

async function olderThan(path: string, cutoff: number): Promise<boolean> {
  try {
    return (await stat(path)).mtimeMs < cutoff;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // gone already
    throw error;
  }
}

async function staleTempFiles(dir: string, cutoff: number): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const stale: string[] = [];
  for (const name of names.sort()) if (name.endsWith('.part') && (await olderThan(join(dir, name), cutoff))) stale.push(join(dir, name));
  return stale;
}
