// The physical ceiling of anything that commits per step: single-row INSERT transactions per second
// from Node (pg, prepared statement, autocommit) on the same server, with 1 and 8 connections.
import pg from 'pg';
import { rate, type Meter } from './meter.js';
import { BENCH_PG_URL, createBenchSchema, type BenchSchema } from './pg-admin.js';

const INSERT = { name: 'bench_commit', text: 'INSERT INTO commits (flow_id, payload) VALUES ($1, $2)' };
const PAYLOAD = JSON.stringify({ type: 'StepStarted', stepIndex: 0, stepId: 'step-0', attempt: 1 });

export interface CommitLimit {
  c1: Meter;
  c8: Meter;
  close(): Promise<void>;
}

export async function openCommitLimit(): Promise<CommitLimit> {
  const schema: BenchSchema = await createBenchSchema('commit');
  const clients: pg.Client[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const client = new pg.Client({ connectionString: BENCH_PG_URL, options: `-c search_path=${schema.name}` });
      clients.push(client);
      await client.connect();
    }
    await clients[0]!.query(
      'CREATE TABLE commits (id BIGSERIAL PRIMARY KEY, flow_id UUID NOT NULL, payload JSONB NOT NULL)',
    );
  } catch (error) {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await schema.drop();
    throw error;
  }
  const flowId = '00000000-0000-4000-8000-000000000000';
  const meter = (connections: number): Meter => ({
    label: `commit limit · ${connections} connection${connections === 1 ? '' : 's'}`,
    unit: 'commits/s',
    measure: (durationMs) =>
      rate(connections, durationMs, async (worker) => {
        await clients[worker]!.query({ ...INSERT, values: [flowId, PAYLOAD] });
        return 1;
      }),
  });
  return {
    c1: meter(1),
    c8: meter(8),
    close: async () => {
      await Promise.all(clients.map((c) => c.end()));
      await schema.drop();
    },
  };
}
