import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FlowEngine } from '../../src/runtime/engine.js';
import { defineFlow } from '../../src/core/definition.js';
import type { FlowStore } from '../../src/stores/flow-store.js';
import { errorTimeline } from '../../src/cli/commands/errors.js';
import { listFlowEntries } from '../../src/cli/commands/flows.js';
import { statusReport } from '../../src/cli/commands/status.js';
import { readStoredFlow } from '../../src/cli/flow-report.js';
import { UiActions } from '../../src/cli/ui/actions.js';
import { reportWrittenSignal } from '../../src/steps/report-written.js';
import { startUiServer, type UiServer } from '../../src/cli/ui/server.js';
import { demoFlow, flakyStep, seedStep } from '../support/demo-flow.js';
import { engineStores, fileEngineStores } from '../support/stores.js';

const TOKEN = 'test-token-0123456789';
const XSS = '<img src=x onerror=alert(1)>';

interface Served {
  store: FlowStore;
  server: UiServer;
  base: string;
  failed: string;
  completed: string;
  stderr: string[];
}

let open: Served[] = [];
afterEach(async () => {
  for (const { server, store } of open) {
    await server.close();
    await store.close();
  }
  open = [];
});

/** A store with a failed flow (step `middle`, Permanent) and a completed one named XSS, served on a free port. */
async function serve(create: () => Promise<FlowStore>, options: { readOnly?: boolean; host?: string } = {}): Promise<Served> {
  const store = await create();
  const engine = new FlowEngine({ store });
  const failing = demoFlow(['Permanent']);
  const failed = await engine.startFlow(failing);
  await engine.runToEnd(failed, failing);
  const named = defineFlow(XSS, [seedStep(2), flakyStep('double', [])]);
  const completed = await engine.startFlow(named);
  await engine.runToEnd(completed, named);
  const stderr: string[] = [];
  const io = { stdout: { write: () => true }, stderr: { write: (s: string) => stderr.push(s) }, env: {}, cwd: process.cwd() };
  const server = await startUiServer({
    store,
    actions: new UiActions(store, io, { db: 'memory' }),
    host: options.host ?? '127.0.0.1',
    port: 0,
    token: TOKEN,
    readOnly: options.readOnly === true,
    pollMs: 100,
  });
  const served = { store, server, base: `http://127.0.0.1:${server.port}`, failed, completed, stderr };
  open.push(served);
  return served;
}

/** The status of a GET sent with a `Host` of our choosing (fetch always sends the URL's). */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.json() };
}

function post(url: string, body: unknown, token: string | null = TOKEN, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  return getJson(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers },
    body: JSON.stringify(body),
  });
}

describe.each(engineStores)('chemflow ui JSON API on $name', ({ create }) => {
  it('serves the documents of flows, status, errors and events --json, with their filters', async () => {
    const { store, base, failed, completed } = await serve(create);
    expect((await getJson(`${base}/api/flows`)).body).toEqual(await listFlowEntries(store, {}));
    const onlyFailed = (await getJson(`${base}/api/flows?status=failed`)).body as { flowId: string }[];
    expect(onlyFailed.map((f) => f.flowId)).toEqual([failed]);
    expect(Object.keys(onlyFailed[0] ?? {})).toEqual(['flowId', 'name', 'status', 'version', 'lastEventType', 'createdAt', 'updatedAt']);
    expect(((await getJson(`${base}/api/flows?status=completed,failed&name=${encodeURIComponent(XSS)}`)).body as { flowId: string }[]).map((f) => f.flowId)).toEqual([completed]);
    const first = (await getJson(`${base}/api/flows?limit=1`)).body as { flowId: string }[];
    expect(first.map((f) => f.flowId)).toEqual([completed]);
    expect(((await getJson(`${base}/api/flows?limit=1&after=${completed}`)).body as { flowId: string }[]).map((f) => f.flowId)).toEqual([failed]);
    expect((await getJson(`${base}/api/flows/${failed}`)).body).toEqual((await statusReport(store, failed)).report);
    expect((await getJson(`${base}/api/flows/${failed}/errors`)).body).toEqual(await errorTimeline(store, failed));
    expect((await getJson(`${base}/api/flows/${failed}/errors?step=middle`)).body).toHaveLength(1);
    expect((await getJson(`${base}/api/flows/${failed}/events`)).body).toEqual((await readStoredFlow(store, failed)).events);
    const found = (await getJson(`${base}/api/errors?class=Permanent`)).body as { flowId: string; flowName: string; stepId: string }[];
    expect(found.map((e) => [e.flowId, e.flowName, e.stepId])).toEqual([[failed, 'demo', 'middle']]);
    expect((await getJson(`${base}/api/errors?class=Transient`)).body).toEqual([]);
  });

  it('draws a flow graph as an SVG image from the status document, an unknown flow 404', async () => {
    const { store, base, failed } = await serve(create);
    const response = await fetch(`${base}/api/flows/${failed}/graph.svg`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const svg = await response.text();
    const steps = (await statusReport(store, failed)).report.steps;
    expect([...svg.matchAll(/<g class="graph-node [^"]*" data-step="([^"]*)" data-status="([^"]*)" data-attempts="(\d+)"/g)].map((m) => [m[1], m[2], Number(m[3])])).toEqual(
      steps.map((s) => [s.stepId, s.status, s.attempts]),
    );
    expect(steps.map((s) => s.status)).toContain('Failed');
    const missing = await fetch(`${base}/api/flows/no-such-flow/graph.svg`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('FLOW_NOT_FOUND');
    expect((await post(`${base}/api/flows/${failed}/graph.svg`, {})).status).toBe(405);
  });

  it('searches the error rows of every flow by code, step, flow name and time, newest first, a page at a time', async () => {
    const { store, base, failed } = await serve(create);
    const engine = new FlowEngine({ store });
    const flaky = defineFlow('flaky', [seedStep(1), flakyStep('fetch', ['Transient', 'Transient'], { retry: { maxRetries: 3, backoff: { kind: 'none' } } })]);
    const second = await engine.startFlow(flaky);
    await engine.runToEnd(second, flaky);
    type Found = { id: number; flowId: string; flowName: string; stepId: string; attemptNumber: number; errorClass: string; timestamp: string };
    const search = async (query: string): Promise<Found[]> => (await getJson(`${base}/api/errors?${query}`)).body as Found[];
    const all = await search('');
    expect(all.map((e) => [e.flowName, e.stepId, e.attemptNumber])).toEqual([
      ['flaky', 'fetch', 2],
      ['flaky', 'fetch', 1],
      ['demo', 'middle', 1],
    ]);
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => b - a));
    expect((await search('flow=demo')).map((e) => e.flowId)).toEqual([failed]);
    expect((await search('step=fetch&class=Transient')).map((e) => e.attemptNumber)).toEqual([2, 1]);
    expect((await search('code=PERMANENT')).map((e) => e.stepId)).toEqual(['middle']);
    expect(await search('code=NOPE')).toEqual([]);
    const page = await search('limit=2');
    expect(page).toHaveLength(2);
    expect(await search(`limit=2&before=${page[1]?.id}`)).toEqual([all[2]]);
    const first = all[2]?.timestamp ?? '';
    expect((await search(`since=${encodeURIComponent(first)}&until=${encodeURIComponent(first)}`)).length).toBe(0);
    expect((await search(`until=${encodeURIComponent(new Date(Date.parse(first) + 1).toISOString())}`)).map((e) => e.stepId)).toContain('middle');
    expect(await search('since=2999-01-01')).toEqual([]);
  });

  it('lists flows by start time and error class, oldest first or by name, a page at a time', async () => {
    const { base, failed, completed } = await serve(create);
    type Entry = { flowId: string; createdAt: string };
    const list = async (query: string): Promise<string[]> => ((await getJson(`${base}/api/flows?${query}`)).body as Entry[]).map((f) => f.flowId);
    const newest = (await getJson(`${base}/api/flows`)).body as Entry[];
    expect(newest.map((f) => f.flowId)).toEqual([completed, failed]);
    expect(await list('class=Permanent')).toEqual([failed]);
    expect(await list('class=Transient')).toEqual([]);
    expect(await list('class=Permanent&status=completed')).toEqual([]);
    expect(await list(`class=Permanent&after=${failed}`)).toEqual([]);
    const startedFailed = newest[1]?.createdAt ?? '';
    const startedCompleted = newest[0]?.createdAt ?? '';
    // `since` included, `until` excluded.
    expect(await list(`since=${encodeURIComponent(startedFailed)}&until=${encodeURIComponent(new Date(Date.parse(startedCompleted) + 1).toISOString())}`)).toEqual([completed, failed]);
    expect(await list(`since=${encodeURIComponent(startedFailed)}&until=${encodeURIComponent(startedFailed)}`)).toEqual([]);
    expect(await list(`until=${encodeURIComponent(new Date(Date.parse(startedFailed) + 1).toISOString())}`)).toContain(failed);
    expect(await list('since=2999-01-01')).toEqual([]);
    expect(await list('until=2000-01-01')).toEqual([]);
    expect(await list('sort=oldest')).toEqual([failed, completed]);
    expect(await list('sort=oldest&limit=1')).toEqual([failed]);
    expect(await list(`sort=oldest&limit=1&after=${failed}`)).toEqual([completed]);
    const byName = await list('sort=name');
    expect([...byName].sort()).toEqual([completed, failed].sort());
    expect(await list(`sort=name&limit=1&after=${byName[0]}`)).toEqual([byName[1]]);
    expect(await list(`sort=name&after=${byName[1]}`)).toEqual([]);
    for (const bad of ['class=Bogus', 'since=yesterday', 'sort=duration'])
      expect(await getJson(`${base}/api/flows?${bad}`)).toMatchObject({ status: 400, body: { error: { code: 'CLI_USAGE' } } });
  });

  it('previews an artifact: its rows, and the first 24 molecules among them drawn as SVG', async () => {
    const { store, base } = await serve(create);
    const engine = new FlowEngine({ store });
    const molecules = defineFlow('molecules', [
      {
        id: 'read',
        kind: 'source',
        baseParams: {},
        run: () => ({
          outputs: [
            {
              kind: 'test/molecules',
              payload: { source: 'inline', molecules: [{ name: XSS, smiles: 'c1ccccc1O' }, { name: 'broken', smiles: 'C1CC' }, ...Array.from({ length: 30 }, (_, i) => ({ name: `m${i}`, smiles: 'C'.repeat(i + 1) }))] },
            },
          ],
        }),
      },
    ]);
    const flowId = await engine.startFlow(molecules);
    await engine.runToEnd(flowId, molecules);
    const finished = ((await getJson(`${base}/api/flows/${flowId}/events`)).body as { type: string; outputs?: string[] }[]).find((e) => e.type === 'StepFinished');
    const hash = finished?.outputs?.[0] ?? '';
    const { status, body } = await getJson(`${base}/api/artifacts/${hash}`);
    expect(status).toBe(200);
    const preview = body as { form: string; rows: number; payload: { source: string; molecules: unknown[] }; depictions: { row: number; smiles: string; svg: string }[] };
    expect(preview).toMatchObject({ form: 'whole', rows: 32, payload: { source: 'inline' } });
    expect(preview.payload.molecules).toHaveLength(32);
    // At most 24 drawings, the first rows' own, an unreadable SMILES said as such.
    expect(preview.depictions).toHaveLength(24);
    expect(preview.depictions.map((d) => d.row)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(preview.depictions[0]?.svg).toMatch(/^<svg class="depiction"[^>]*aria-label="Structure of &#60;img src=x onerror=alert\(1\)&#62;"/);
    expect(preview.depictions[0]?.svg).not.toContain('<img');
    expect(preview.depictions[1]?.svg).toMatch(/^<span class="no-depiction">no depiction: /);
  });

  it('serves the HTML report a flow wrote, with the token, sandboxed, only while the file is the one written', async () => {
    const { store, base, failed } = await serve(create);
    const dir = await mkdtemp(join(tmpdir(), 'chemflow-ui-report-'));
    try {
      const page = join(dir, 'report.html');
      const html = `<!doctype html><title>${XSS}</title><p>report</p>`;
      const engine = new FlowEngine({ store });
      const reporting = defineFlow('reporting', [
        {
          id: 'report',
          kind: 'source',
          baseParams: {},
          run: async (ctx) => {
            await writeFile(page, html);
            const signal = reportWrittenSignal(page, createHash('sha256').update(html).digest('hex'));
            ctx.emit(signal.name, signal.data);
            return { outputs: [] };
          },
        },
      ]);
      const flowId = await engine.startFlow(reporting);
      await engine.runToEnd(flowId, reporting);
      const url = `${base}/api/flows/${flowId}/report`;
      // A file of this machine's disk: the token is needed on loopback too.
      expect((await fetch(url)).status).toBe(401);
      const served = await fetch(`${url}?token=${TOKEN}`);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(served.headers.get('content-security-policy')).toMatch(/^sandbox; default-src 'none'/);
      expect(await served.text()).toBe(html);
      expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
      await writeFile(page, `${html}<p>edited</p>`);
      expect(await getJson(`${url}?token=${TOKEN}`)).toMatchObject({ status: 409, body: { error: { code: 'REPORT_CHANGED' } } });
      await rm(page);
      expect(await getJson(`${url}?token=${TOKEN}`)).toMatchObject({ status: 404, body: { error: { code: 'REPORT_MISSING' } } });
      expect(await getJson(`${base}/api/flows/${failed}/report?token=${TOKEN}`)).toMatchObject({ status: 404, body: { error: { code: 'UI_NOT_FOUND' } } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers bad requests with the CLI error document and a status', async () => {
    const { base, failed } = await serve(create);
    expect(await getJson(`${base}/api/flows?status=bogus`)).toMatchObject({ status: 400, body: { error: { code: 'CLI_USAGE' } } });
    expect(await getJson(`${base}/api/flows?limit=0`)).toMatchObject({ status: 400 });
    expect(await getJson(`${base}/api/flows/3c1e0000-0000-4000-8000-000000000000`)).toMatchObject({
      status: 404,
      body: { error: { code: 'FLOW_NOT_FOUND', next: expect.stringContaining('chemflow flows') as unknown } },
    });
    expect(await getJson(`${base}/api/flows/${failed}/errors?step=nope`)).toMatchObject({ status: 400, body: { error: { message: `Flow ${failed} has no step "nope"` } } });
    expect(await getJson(`${base}/api/flows/${failed}/retry`)).toMatchObject({ status: 405 });
  });

  it('retries a failed step and cancels a flow with the token; a rejected retry answers 409 with the CLI message', async () => {
    const { store, base, failed, completed } = await serve(create);
    const rejected = await post(`${base}/api/flows/${failed}/retry`, { stepId: 'seed' });
    expect(rejected.status).toBe(409);
    expect(rejected.body).toMatchObject({
      error: { code: 'RETRY_REJECTED', message: `Retry of step seed in flow ${failed} rejected (step_not_failed): the step is FinishedOk, only a Failed step can be retried` },
    });
    const before = (await store.list(failed)).length;
    const retried = await post(`${base}/api/flows/${failed}/retry`, { stepId: 'middle' });
    expect(retried).toMatchObject({ status: 200, body: { flowId: failed, stepId: 'middle', retryIndex: 1, maxRetries: 3, reason: null } });
    expect(await store.list(failed)).toHaveLength(before + 1);
    const cancelled = await post(`${base}/api/flows/${failed}/cancel`, { reason: 'enough' });
    expect(cancelled).toMatchObject({ status: 200, body: { flowId: failed, status: 'cancelled', reason: 'enough', version: before + 2 } });
    expect(await post(`${base}/api/flows/${completed}/cancel`, {})).toMatchObject({ status: 409, body: { error: { code: 'FLOW_NOT_RUNNABLE' } } });
    expect(await post(`${base}/api/flows/${failed}/retry`, {})).toMatchObject({ status: 400 });
  });

  it('refuses actions without the token (401), from another origin or host, and on a read-only server (403), appending nothing', async () => {
    const { store, base, failed } = await serve(create);
    const before = await store.list(failed);
    expect(await post(`${base}/api/flows/${failed}/retry`, { stepId: 'middle' }, null)).toMatchObject({ status: 401, body: { error: { code: 'UI_TOKEN' } } });
    expect(await post(`${base}/api/flows/${failed}/cancel`, {}, 'wrong-token')).toMatchObject({ status: 401 });
    expect(await post(`${base}/api/flows/${failed}/cancel`, {}, TOKEN, { origin: 'http://evil.example' })).toMatchObject({ status: 403 });
    expect(await statusWithHost(`${base}/api/flows`, 'evil.example')).toBe(421);
    expect(await statusWithHost(`${base}/api/flows`, `localhost:${new URL(base).port}`)).toBe(200);
    // A token in the query is only for reads that cannot send headers: an action needs the header.
    expect(await post(`${base}/api/flows/${failed}/cancel?token=${TOKEN}`, {}, null)).toMatchObject({ status: 401 });
    const readOnly = await serve(create, { readOnly: true });
    expect(await post(`${readOnly.base}/api/flows/${readOnly.failed}/retry`, { stepId: 'middle' })).toMatchObject({ status: 403, body: { error: { code: 'UI_READ_ONLY' } } });
    expect(await post(`${readOnly.base}/api/flows/${readOnly.failed}/retry`, { stepId: 'middle' }, null)).toMatchObject({ status: 401 });
    expect(await store.list(failed)).toEqual(before);
    expect(await readOnly.store.list(readOnly.failed)).toHaveLength(before.length);
  });

  it('streams a change event naming the flow a retry put back in the queue', async () => {
    const { base, failed } = await serve(create);
    const controller = new AbortController();
    const response = await fetch(`${base}/api/live`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // The first look at the queue is the baseline; the retry that follows changes the failed flow.
    const retry = post(`${base}/api/flows/${failed}/retry`, { stepId: 'middle' });
    expect((await retry).status).toBe(200);
    while (!text.includes('event: change')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    controller.abort();
    expect(text).toContain(`event: change\ndata: ["${failed}"]`);
  });
});

describe.each(fileEngineStores)('chemflow ui file artifacts on $name', ({ create }) => {
  it('previews a file artifact and downloads its bytes as an attachment', async () => {
    const { store, base } = await serve(create);
    const engine = new FlowEngine({ store });
    const bytes = new TextEncoder().encode('CCO\nc1ccccc1\n');
    const writing = defineFlow('files', [
      { id: 'write', kind: 'source', baseParams: {}, run: async (ctx) => ({ outputs: [await ctx.file('chem/smi', bytes, { name: 'mols "1".smi' })] }) },
    ]);
    const flowId = await engine.startFlow(writing);
    await engine.runToEnd(flowId, writing);
    const finished = (await store.list(flowId)).find((e) => e.type === 'StepFinished');
    const hash = finished?.type === 'StepFinished' ? (finished.outputs[0] ?? '') : '';
    expect((await getJson(`${base}/api/artifacts/${hash}`)).body).toMatchObject({ form: 'file', kind: 'chem/smi', name: 'mols "1".smi', size: bytes.byteLength });
    const download = await fetch(`${base}/api/artifacts/${hash}/download`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="mols _1_.smi"; filename*=UTF-8''${encodeURIComponent('mols "1".smi')}`);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(bytes);
    expect((await fetch(`${base}/api/artifacts/${'0'.repeat(64)}/download`)).status).toBe(404);
    expect((await fetch(`${base}/api/artifacts/nothex/download`)).status).toBe(400);
  });
});

describe('chemflow ui away from loopback', () => {
  it('needs the token for every API read', async () => {
    const first = engineStores[0];
    if (first === undefined) throw new Error('no store');
    const { base } = await serve(first.create, { host: '0.0.0.0' });
    expect((await fetch(`${base}/api/flows`)).status).toBe(401);
    expect((await fetch(`${base}/api/flows`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${base}/api/flows?token=${TOKEN}`)).status).toBe(200);
    // The graph is an image: a page shows it with the token in its address, as it reads the event stream.
    const flowId = ((await (await fetch(`${base}/api/flows?token=${TOKEN}`)).json()) as { flowId: string }[])[0]?.flowId ?? '';
    expect((await fetch(`${base}/api/flows/${flowId}/graph.svg`)).status).toBe(401);
    expect((await fetch(`${base}/api/flows/${flowId}/graph.svg?token=${TOKEN}`)).status).toBe(200);
    // The page itself holds no data: it loads, and asks for the token it carries.
    expect((await fetch(`${base}/`)).status).toBe(200);
  });
});
