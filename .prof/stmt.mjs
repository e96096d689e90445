import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { openPostgresStore } from '/work/main/dist/index.js';
import { appendEventsQuery } from '/work/main/dist/stores/sql/event-queries.js';
const url = 'postgres://postgres@127.0.0.1:5432/test';
const schema = 'stmt_' + process.pid;
const admin = new pg.Client({ connectionString: url }); await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
await (await openPostgresStore({ connectionString: url, schema, max: 1 })).close();
const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` }); await c.connect();
const fp = 'a'.repeat(64);
const ts = new Date().toISOString();
const ev = (type, payload) => ({ type, ts, payload });
async function flowOnce(variant) {
  const flowId = randomUUID();
  let v = 0;
  const batches = [[ev('FlowInitialized', { definitionHash: fp, stepCount: 10, flowName: 'x', stepIds: [], metadata: {} }), ev('StepStarted', { stepIndex: 0, stepId: 's0', attempt: 1 })]];
  for (let i = 0; i < 9; i++) batches.push([ev('StepFinished', { stepIndex: i, stepId: 's' + i, attempt: 1, outputs: [], fingerprint: fp }), ev('StepStarted', { stepIndex: i + 1, stepId: 's' + (i + 1), attempt: 1 })]);
  batches.push([ev('StepFinished', { stepIndex: 9, stepId: 's9', attempt: 1, outputs: [], fingerprint: fp }), ev('FlowCompleted', { flowFingerprint: fp })]);
  for (const events of batches) {
    const q = appendEventsQuery({ flowId, expectedVersion: v, schemaVersion: 1, events, errors: [], artifacts: [], lease: v === 0 ? { owner: 'o', leaseMs: 30000 } : undefined });
    let text = q.text;
    if (variant === 'noqueue') text = text.replace(/, queue AS \([\s\S]*?updated_at = EXCLUDED.updated_at\n\)/, '');
    const values = variant === 'noqueue' ? q.values.slice(0, 4) : q.values;
    await c.query({ name: variant + (v === 0 ? '0' : '1') + (events.at(-1).type), text, values });
    v += events.length;
  }
}
async function insertOnce() { for (let i = 0; i < 11; i++) await c.query({ name: 'ins', text: 'INSERT INTO bench_rows(id, body) VALUES ($1, $2)', values: [randomUUID(), '{"a":1}'] }); }
await c.query('CREATE TABLE bench_rows (id uuid primary key, body jsonb)');
const N = 150;
const res = {};
for (const round of [1, 2, 3]) for (const variant of ['full', 'noqueue', 'insert']) {
  const t = performance.now();
  for (let i = 0; i < N; i++) variant === 'insert' ? await insertOnce() : await flowOnce(variant);
  (res[variant] ??= []).push(Math.round((N * 11) / ((performance.now() - t) / 1000)));
}
console.log(JSON.stringify(res));
await c.end(); await admin.query(`DROP SCHEMA ${schema} CASCADE`); await admin.end();
