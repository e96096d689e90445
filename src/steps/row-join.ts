/**
 * Rows in order, handed out one at a time from chunks read on demand: a cursor over a `RowsInput`
 * that several streams can advance in lockstep.
 */
export class RowCursor<R> {
  private readonly chunks: AsyncIterator<readonly R[]>;
  private chunk: readonly R[] = [];
  private at = 0;
  private done = false;

  constructor(source: AsyncIterable<readonly R[]>) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** The next row, or undefined after the last. */
  async next(): Promise<R | undefined> {
    while (this.at >= this.chunk.length) {
      if (this.done) return undefined;
      const step = await this.chunks.next();
      if (step.done === true) {
        this.done = true;
        return undefined;
      }
      this.chunk = step.value;
      this.at = 0;
    }
    return this.chunk[this.at++];
  }

  /** Stops reading (the source's `finally` blocks run). */
  async close(): Promise<void> {
    if (!this.done) await this.chunks.return?.();
    this.done = true;
  }
}

/**
 * Finds the row of a key in a table of rows keyed by InChIKey, asked for keys in the order of another
 * stream. When the table is in that order (a table computed from these molecules is), each row is the
 * next one read: no map, one pass. At the first row out of that order it reads the table again from the
 * start into a map, whose last row of a key wins, as a map built up front would.
 */
export class KeyedRows<R extends { inchikey: string }> {
  private cursor: RowCursor<R>;
  private map: Map<string, R> | undefined;

  constructor(private readonly read: () => AsyncIterable<readonly R[]>) {
    this.cursor = new RowCursor(read());
  }

  async get(key: string): Promise<R | undefined> {
    if (this.map === undefined) {
      const row = await this.cursor.next();
      if (row !== undefined && row.inchikey === key) return row;
      await this.cursor.close();
      this.map = new Map();
      for await (const chunk of this.read()) for (const r of chunk) this.map.set(r.inchikey, r);
    }
    return this.map.get(key);
  }

  /** Whether the rows were found by position only (no map was needed). */
  get inOrder(): boolean {
    return this.map === undefined;
  }

  async close(): Promise<void> {
    await this.cursor.close();
  }
}
