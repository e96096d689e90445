import { PGlite } from '@electric-sql/pglite';
import { createCluster } from './cluster-template.js';
import { needsCluster } from './create-cluster.js';
import type { SqlExecutor, SqlRunner } from '../sql/executor.js';

/**
 * Server settings beside PGlite's own. PostgreSQL's default shared buffers (128 MB, and WAL buffers of
 * 1/32 of that) are memory of this process here, touched at start (about 115 MiB of RSS at once) and
 * filled as pages are read. The database holds events, leases and manifests, never a batch's rows
 * (those are in the blob store), and the files under it stay in the OS page cache: 16 MB of buffers
 * opens at about 165 MiB instead of 280 MiB, and no statement needs more.
 */
const SETTINGS = ['shared_buffers=16MB'];

/**
 * Embedded PostgreSQL (WASM) behind the narrow executor interface. PGlite has one connection, so
 * every statement and every transaction goes through one queue: a statement from another caller
 * must never run inside (and be rolled back with) someone else's open transaction.
 */
export class PgliteExecutor implements SqlExecutor {
  readonly kind = 'pglite';
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly db: PGlite) {}

  /**
   * A file-backed database in `dataDir`, or an in-memory one when `dataDir` is undefined; `from` (a
   * dump made by `PGlite.dumpDataDir`) starts a new database as a copy of that one instead of empty.
   * A new file-backed database without `from` starts as a copy of the cached cluster template (`createCluster`).
   */
  static async open(dataDir?: string, from?: Blob): Promise<PgliteExecutor> {
    if (from === undefined && dataDir !== undefined && needsCluster(dataDir)) await createCluster(dataDir);
    const db = new PGlite({
      ...(dataDir === undefined ? {} : { dataDir }),
      ...(from === undefined ? {} : { loadDataDir: from }),
      startParams: [...PGlite.defaultStartParams, ...SETTINGS.flatMap((setting) => ['-c', setting])],
    });
    await db.waitReady;
    return new PgliteExecutor(db);
  }

  query<Row extends object>(text: string, values: readonly unknown[] = []): Promise<Row[]> {
    return this.serialise(() => this.recovering(() => this.direct.query<Row>(text, values)));
  }

  exec(script: string): Promise<void> {
    return this.serialise(() => this.recovering(() => this.direct.exec(script)));
  }

  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T> {
    return this.serialise(async () => {
      await this.db.query('BEGIN');
      try {
        // The queue is already held for the whole block: the transaction runs statements directly.
        const result = await work(this.direct);
        await this.db.query('COMMIT');
        return result;
      } catch (error) {
        await this.db.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /** PGlite runs in this process only: its notifications come from this process's own appends. */
  async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
    return this.db.listen(channel, onNotify);
  }

  async close(): Promise<void> {
    await this.tail;
    await this.db.close();
  }

  /** Statements without the queue, for use while the queue is held. */
  private readonly direct: SqlRunner = {
    query: async <Row extends object>(text: string, values: readonly unknown[] = []) =>
      (await this.db.query<Row>(text, [...values])).rows,
    exec: async (script: string) => {
      await this.db.exec(script);
    },
  };

  /**
   * A failed statement inside a multi-statement script can leave the single connection in an aborted
   * transaction that would poison every later statement; a pool would hand out a fresh connection
   * instead, so emulate that by rolling back before rethrowing.
   */
  private async recovering<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (this.db.isInTransaction()) await this.db.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}
