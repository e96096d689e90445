/** A parameterised statement: values are always sent as parameters, never spliced into `text`. */
export interface SqlQuery {
  readonly text: string;
  readonly values: readonly unknown[];
}

/** What a statement can run on: the executor itself or the connection of an open transaction. */
export interface SqlRunner {
  /** One statement with parameters; resolves to its rows. */
  query<Row extends object>(text: string, values?: readonly unknown[]): Promise<Row[]>;
  /** A parameterless script of several statements (migrations). */
  exec(script: string): Promise<void>;
}

/**
 * The one narrow door to a database (after pg-boss's `executeSql`): everything chemflow stores goes
 * through it, so the PGlite and PostgreSQL server stores share every SQL line.
 */
export interface SqlExecutor extends SqlRunner {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `work` inside BEGIN ... COMMIT on one connection; rolls back when it throws. */
  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /**
   * Calls `onNotify` for every NOTIFY on `channel` (from any connection, any process), until the
   * returned function is called. A lost listening connection is re-established by itself, and
   * `onNotify` is called once after, since notifications sent meanwhile are gone.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Runs a named query built as `{text, values}`. */
export function run<Row extends object>(runner: SqlRunner, query: SqlQuery): Promise<Row[]> {
  return runner.query<Row>(query.text, query.values);
}
