import pg from 'pg';

const MAX_BACKOFF_MS = 30_000;

/**
 * One dedicated connection that LISTENs on a channel (a pooled connection cannot: the pool hands it to
 * others). When the connection is lost it reconnects with bounded, jittered backoff, and calls
 * `onNotify` once it is back, because whatever was notified meanwhile was lost with it.
 */
export class PgListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly onNotify: () => void,
  ) {}

  /** Connects and listens; a first failure is not fatal: the listener keeps trying in the background. */
  async start(): Promise<void> {
    await this.connect().catch(() => this.scheduleReconnect());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    // Without an 'error' listener a terminated connection would crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.onNotify();
    });
    await client.connect();
    await client.query(`LISTEN ${quoteIdentifier(this.channel)}`);
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    if (this.failures > 0) this.onNotify();
    this.failures = 0;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry !== null) return;
    this.failures += 1;
    const ceiling = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(this.failures, 10));
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().catch(() => this.scheduleReconnect());
    }, ceiling / 2 + Math.random() * (ceiling / 2));
    this.retry.unref();
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
