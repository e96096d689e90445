// An executor whose next statements commit and then "lose the connection" before the answer
// arrives: the ambiguous-commit case, forced deterministically.
import type { SqlExecutor, SqlRunner } from '../../src/stores/sql/executor.js';

export interface FlakyExecutor extends SqlExecutor {
  /** Makes the next `count` statements that match `pattern` run, then fail as a lost connection. */
  loseConnectionAfter(pattern: RegExp, count: number): void;
}

export function flakyExecutor(inner: SqlExecutor): FlakyExecutor {
  let pattern = /$^/;
  let remaining = 0;
  return {
    kind: inner.kind,
    async query<Row extends object>(text: string, values?: readonly unknown[]): Promise<Row[]> {
      const rows = await inner.query<Row>(text, values);
      if (remaining > 0 && pattern.test(text)) {
        remaining--;
        throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
      }
      return rows;
    },
    exec: (script) => inner.exec(script),
    transaction: <T>(work: (tx: SqlRunner) => Promise<T>) => inner.transaction(work),
    listen: (channel, onNotify) => inner.listen(channel, onNotify),
    close: () => inner.close(),
    loseConnectionAfter(next, count) {
      pattern = next;
      remaining = count;
    },
  };
}
