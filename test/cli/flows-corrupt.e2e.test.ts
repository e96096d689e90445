import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, createTestSchema, describeWithPg, TEST_PG_URL, type TestSchema } from '../helpers/pg.js';
import { chemflow, ensureBuilt, workspace, type Workspace } from './support/cli.js';

const FLOW = 'name: fine\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n';

/** A StepStarted whose payload is missing every field: the codec cannot decode it. */
const BAD_EVENT = `INSERT INTO event_log (flow_id, version, ts, event_type, schema_version, payload)
  SELECT $1::uuid, max(version) + 1, now(), 'StepStarted', 1, '{"bogus": true}'::jsonb FROM event_log WHERE flow_id = $1::uuid`;

interface Entry {
  flowId: string;
  status: string;
}

beforeAll(ensureBuilt, 180_000);

/** Two flows at `db`; `corrupt(flowId)` then adds an undecodable event to the first; `flows` must list both, `status` name the event. */
async function listsTheOthersAndMarksIt(ws: Workspace, db: string, corrupt: (flowId: string) => Promise<void>): Promise<void> {
  const cli = (...args: string[]) => chemflow(['--db', db, ...args], { cwd: ws.dir, timeoutMs: 90_000 });
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const run = await cli('run', 'flow.yaml', '--json', '--quiet');
    expect(run.code, run.stderr).toBe(0);
    ids.push((JSON.parse(run.stdout) as { flowId: string }).flowId);
  }
  const [bad, good] = ids as [string, string];
  await corrupt(bad);

  // The listing reads the flow queue, never the log: an undecodable event cannot break it.
  const json = await cli('flows', '--json');
  expect(json.code, json.stderr).toBe(0);
  const entries = JSON.parse(json.stdout) as Entry[];
  expect(entries.map((e) => e.flowId).sort()).toEqual([...ids].sort());
  expect(entries.find((e) => e.flowId === good)).toMatchObject({ status: 'completed' });

  const text = await cli('flows');
  expect(text.code, text.stderr).toBe(0);
  expect(text.stdout).toMatch(new RegExp(`${good}\\s+fine\\s+completed\\s+4`));

  // Reading the flow itself names the event at fault.
  const status = await cli('status', bad);
  expect(status.code).toBe(2);
  expect(status.stderr).toMatch(new RegExp(`Corrupt event in flow ${bad} at version 5: StepStarted payload invalid`));
}

describe('chemflow flows with an undecodable event (embedded database)', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('flow.yaml', FLOW);
  });
  afterAll(() => ws.remove());

  it('lists the other flows and marks that one', async () => {
    await listsTheOthersAndMarksIt(ws, ws.db, async (flowId) => {
      const db = new PGlite(ws.db);
      try {
        await db.query(BAD_EVENT, [flowId]);
      } finally {
        await db.close();
      }
    });
  }, 240_000);
});

describeWithPg('chemflow flows with an undecodable event (PostgreSQL)', () => {
  let ws: Workspace;
  let schema: TestSchema;
  beforeAll(async () => {
    ws = await workspace();
    await ws.write('flow.yaml', FLOW);
    schema = await createTestSchema('cli_flows_corrupt');
  });
  afterAll(async () => {
    await schema.drop();
    await ws.remove();
  });

  it('lists the other flows and marks that one', async () => {
    const url = new URL(TEST_PG_URL);
    url.searchParams.set('options', `-c search_path=${schema.name}`);
    await listsTheOthersAndMarksIt(ws, url.toString(), async (flowId) => {
      await adminQuery(`SET search_path = ${schema.name}; ${BAD_EVENT.replace(/\$1/g, `'${flowId}'`)}`);
    });
  }, 240_000);
});
