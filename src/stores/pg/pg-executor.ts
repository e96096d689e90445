import { createHash } from 'node:crypto';
import pg from 'pg';
import type { SqlExecutor, SqlRunner } from '../sql/executor.js';
import type { PgExecutorOptions } from './pg-executor-options.js';
import { PgListener } from './pg-listener.js';

export type { PgExecutorOptions };

const statementNames = new Map<string, string>();
const MAX_PREPARED = 64;

/**
 * chemflow's statements are a few fixed texts run many times: naming them makes \`pg\` prepare each
 * once per connection, so the server skips parsing and planning (the append CTE is costly to plan).
 */
function prepared(text: string, values: readonly unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  // Ad-hoc statements (operators, tests) beyond chemflow's own few stay unnamed: no unbounded cache.
  if (name === undefined && statementNames.size >= MAX_PREPARED) return { text, values: [...values] };
  if (name === undefined) {
    name = `chemflow_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: [...values] };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A `pg` Pool behind the narrow executor interface: the PostgreSQL server store. */
export class PgExecutor implements SqlExecutor {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;
  private readonly clientConfig: pg.ClientConfig;
  private readonly listeners = new Set<PgListener>();

  constructor(options: PgExecutorOptions = {}) {
    const { schema } = options;
    // The schema goes into a startup parameter, not a statement: restrict it to a plain identifier.
    if (schema !== undefined && !IDENTIFIER.test(schema)) throw new Error(`Invalid schema name ${JSON.stringify(schema)}`);
    this.clientConfig = {
      connectionString: options.connectionString ?? process.env.DATABASE_URL,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
      application_name: options.applicationName ?? 'chemflow',
      // search_path set at connection start-up applies to every pooled connection, with no extra round trip.
      ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
    };
    this.pool = new pg.Pool({ ...this.clientConfig, max: options.max ?? 10 });
    // An idle connection killed by the server (restart, pg_terminate_backend) is reported here and
    // dropped from the pool; without a listener Node would crash the process on the 'error' event.
    this.pool.on('error', () => undefined);
    // A checked-out client has no listener of the pool's, and the server's goodbye can come in the
    // very packet that completes the connection, before `transaction` holds the client: every client
    // gets its own listener as it is created. The failure itself reaches chemflow through the
    // statement that was running, or the next one (the client is then no longer queryable).
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  async query<Row extends object>(text: string, values: readonly unknown[] = []): Promise<Row[]> {
    const result = await this.pool.query(prepared(text, values));
    return result.rows as Row[];
  }

  async exec(script: string): Promise<void> {
    // Without parameters pg uses the simple protocol, which accepts several statements at once.
    await this.pool.query(script);
  }

  async transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: SqlRunner = {
      query: async <Row extends object>(text: string, values: readonly unknown[] = []) =>
        (await client.query(prepared(text, values))).rows as Row[],
      exec: async (script: string) => {
        await client.query(script);
      },
    };
    try {
      await client.query('BEGIN');
      const result = await work(tx);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      // Destroy rather than reuse: after a failure the connection's state is not worth trusting.
      client.release(true);
      throw error;
    }
  }

  async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
    const listener = new PgListener(this.clientConfig, channel, onNotify);
    this.listeners.add(listener);
    await listener.start();
    return async () => {
      this.listeners.delete(listener);
      await listener.stop();
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.listeners].map((l) => l.stop()));
    this.listeners.clear();
    await this.pool.end();
  }
}
