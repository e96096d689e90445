// Raw reads of chemflow's tables, for checks the FlowStore interface cannot express.
import type { SqlRunner } from '../../src/stores/sql/executor.js';

export async function artifactRowCount(db: SqlRunner, hash: string): Promise<number> {
  const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM workflow_step_artifacts WHERE hash = $1', [hash]);
  return rows[0]?.n ?? 0;
}

export function errorRows(db: SqlRunner, flowId: string): Promise<Record<string, unknown>[]> {
  return db.query<Record<string, unknown>>('SELECT * FROM step_execution_errors WHERE flow_id = $1 ORDER BY id', [flowId]);
}

export async function eventRowCount(db: SqlRunner, flowId: string): Promise<number> {
  const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_log WHERE flow_id = $1', [flowId]);
  return rows[0]?.n ?? 0;
}
