import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCi } from '../helpers/ci.js';
import { pgAvailable, pgSkipReason } from '../helpers/pg.js';
import { chemflow, E2E_TIMEOUT_MS, ensureBuilt, ROOT, SLOW_FLOW, workspace } from './support/cli.js';
import { background, createPgDb, waitUntil, type Background, type PgDb } from './support/processes.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/**
 * The screenshots of docs/ui.md, made by the PGlite run: into docs/images with
 * CHEMFLOW_UPDATE_SCREENSHOTS=1, else outside the checkout (a test run leaves the checkout as it was).
 */
const IMAGES = process.env.CHEMFLOW_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'images') : join(tmpdir(), 'chemflow-ui-screenshots');
const XSS = '<img src=x onerror=alert(1)>';

const skip = !existsSync(CHROMIUM) && !isCi();
const SKIP_MESSAGE = `SKIPPED: ${CHROMIUM} is missing; run scripts/install-chromium.sh (with CI set this test fails instead)`;
if (skip) console.warn(`test/cli/ui.e2e.test.ts: ${SKIP_MESSAGE}`);

const GATED = 'name: gated\nretry: { backoff: { kind: none } }\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs, params: { n: 4 } }\n  - { id: gate, uses: ./steps/gate.mjs }\n  - { id: double, uses: ./steps/double.mjs }\n';
const NAMED = `name: ${JSON.stringify(XSS)}\nsteps:\n  - { id: seed, uses: ./steps/seed.mjs }\n`;
/** Molecules through RDKit into the HTML report; one of them named to be markup. */
const MOLECULES_CSV = `name,smiles\naspirin,CC(=O)Oc1ccccc1C(=O)O\n"${XSS}",c1ccccc1O\ncaffeine,Cn1cnc2c1c(=O)n(C)c(=O)n2C\n`;
const MOLECULES = `name: molecules
steps:
  - { id: read, uses: chem/read-smiles, params: { file: molecules.csv, smilesColumn: smiles, nameColumn: name } }
  - { id: descriptors, uses: chem/descriptors }
  - { id: lipinski, uses: chem/lipinski-filter }
  - { id: report, uses: chem/report, params: { outDir: out, name: molecules, title: Three molecules } }
`;

interface Setup {
  /** `--db` of the store. */
  db: string;
  /** On PostgreSQL a worker runs what the pages retry; on PGlite the server itself does (it holds the database). */
  worker: boolean;
  screenshots: boolean;
}

const stores: { name: string; setup: () => Promise<{ setup: Setup; drop: () => Promise<void> }> }[] = [
  { name: 'pglite', setup: () => Promise.resolve({ setup: { db: '', worker: false, screenshots: true }, drop: () => Promise.resolve() }) },
  {
    name: 'postgres',
    setup: async () => {
      const pg: PgDb = await createPgDb('ui_e2e');
      return { setup: { db: pg.url, worker: true, screenshots: false }, drop: pg.drop };
    },
  },
];

describe.skipIf(skip)(`chemflow ui in headless Chromium${skip ? ` (${SKIP_MESSAGE})` : ''}`, () => {
  let browser: Browser;
  beforeAll(async () => {
    await ensureBuilt();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
  });

  for (const store of stores) {
    const pgMissing = store.name === 'postgres' && !pgAvailable;
    it.skipIf(pgMissing)(
      `on ${store.name}: filter by status, error class and start date, draw a flow's molecules and open its report, open a failed flow, retry it to completion live, cancel a running flow, refuse an action without the token${pgMissing ? ` — SKIPPED: ${pgSkipReason}` : ''}`,
      { timeout: E2E_TIMEOUT_MS },
      async () => {
        const { setup, drop } = await store.setup();
        const ws = await workspace();
        const db = setup.db === '' ? ws.db : setup.db;
        const cli = (...args: string[]) => chemflow(['--db', db, ...args], { cwd: ws.dir });
        const processes: Background[] = [];
        try {
          await ws.write('gated.yaml', GATED);
          await ws.write('named.yaml', NAMED);
          await ws.write('slow.yaml', SLOW_FLOW);
          await ws.write('molecules.csv', MOLECULES_CSV);
          await ws.write('molecules.yaml', MOLECULES);
          const molecules = JSON.parse((await cli('run', 'molecules.yaml', '--json', '-q')).stdout) as { flowId: string; status: string };
          expect(molecules.status).toBe('completed');
          const gated = JSON.parse((await cli('run', 'gated.yaml', '--json', '-q')).stdout) as { flowId: string; status: string };
          expect(gated.status).toBe('failed');
          expect((await cli('run', 'named.yaml', '--json', '-q')).code).toBe(0);
          const slow = JSON.parse((await cli('submit', 'slow.yaml', '--json')).stdout) as { flowId: string };

          const ui = background(['--db', db, 'ui', '--port', '0'], ws.dir);
          processes.push(ui);
          const url = await waitUntil(() => /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/m.exec(ui.stdout())?.[0], `the address of chemflow ui (${ui.stderr()})`);
          const base = new URL(url).origin;
          if (setup.worker) processes.push(background(['--db', db, 'worker', '--concurrency', '2', '--poll-ms', '200', '--heartbeat-ms', '500', '--lease-ms', '5000'], ws.dir));

          const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
          const problems: string[] = [];
          page.on('dialog', (dialog) => {
            problems.push(`dialog: ${dialog.message()}`);
            void dialog.dismiss();
          });
          page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
          page.on('console', (message) => {
            if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) problems.push(`console: ${message.text()}`);
          });

          // The flows page: every flow, the hostile name as text.
          await page.goto(url);
          await page.locator('#flows tbody tr').nth(3).waitFor();
          expect(new URL(page.url()).search).toBe(''); // the token left the address bar
          await expect(page.locator('#flows a.flow-name', { hasText: XSS }).textContent()).resolves.toBe(XSS);
          await expect(page.locator('#flows img').count()).resolves.toBe(0);
          await page.locator(`#flows tr[data-flow-id="${gated.flowId}"] td.steps`, { hasText: '1/3' }).waitFor();
          if (setup.screenshots) await shot(page, 'ui-flows.png');

          // Filter by status.
          await page.selectOption('#filter-status', 'failed');
          await page.waitForURL(/status=failed/);
          await page.locator('#flows tbody tr').first().waitFor();
          await expect(page.locator('#flows tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-flow-id')))).resolves.toEqual([gated.flowId]);

          // Filter by error class and by start date, on the server.
          await page.selectOption('#filter-status', '');
          await page.waitForURL((u) => !u.search.includes('status='));
          await page.locator('#flows tbody tr').nth(3).waitFor();
          await page.selectOption('#filter-class', 'Permanent');
          await page.waitForURL(/class=Permanent/);
          await page.locator('#flows tbody tr').first().waitFor();
          await expect(page.locator('#flows tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-flow-id')))).resolves.toEqual([gated.flowId]);
          await page.selectOption('#filter-class', '');
          await page.waitForURL((u) => !u.search.includes('class='));
          const day = (offset: number): string => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
          await page.fill('#filter-since', day(1));
          await page.click('#flow-filters button[type=submit]');
          await page.waitForURL(/since=/);
          await page.locator('#flows-count', { hasText: 'No flows match.' }).waitFor();
          await expect(page.locator('#flows tbody tr').count()).resolves.toBe(0);
          await page.fill('#filter-since', day(-1));
          await page.fill('#filter-until', day(0));
          await page.click('#flow-filters button[type=submit]');
          await page.waitForURL(/until=/);
          await page.locator('#flows tbody tr').nth(3).waitFor();
          await page.selectOption('#filter-status', 'failed');
          await page.waitForURL(/status=failed/);
          await page.locator(`#flows tr[data-flow-id="${gated.flowId}"]`).waitFor();
          await expect(page.locator('#flows tbody tr').count()).resolves.toBe(1);

          // The molecules flow: its molecules drawn, its HTML report opened.
          await page.goto(`${base}/flows/${molecules.flowId}`);
          await page.locator('#artifacts tbody tr').first().waitFor();
          await page.locator('#artifacts tbody tr', { hasText: 'read' }).first().locator('button.preview').click();
          await page.locator('#artifact-preview svg.depiction').nth(2).waitFor();
          await expect(page.locator('#artifact-preview svg.depiction').count()).resolves.toBe(3);
          expect(await page.locator('#artifact-preview svg.depiction path').count()).toBeGreaterThan(10);
          await expect(page.locator('#artifact-preview .molecule-name', { hasText: XSS }).textContent()).resolves.toBe(XSS);
          await expect(page.locator('#artifact-preview img, #artifact-preview script').count()).resolves.toBe(0);
          if (setup.screenshots) await shot(page, 'ui-molecules.png');
          const [report] = await Promise.all([page.waitForEvent('popup'), page.click('#report-link a.report')]);
          await report.waitForLoadState();
          await expect(report.title()).resolves.toBe('Three molecules');
          await expect(report.locator('body').textContent()).resolves.toContain('caffeine');
          await expect(report.locator('img').count()).resolves.toBe(0);
          await report.close();

          // The failed flow: its error timeline.
          await page.goto(`${base}/?status=failed`);
          await page.click(`#flows a[href="/flows/${gated.flowId}"]`);
          await page.waitForURL(`**/flows/${gated.flowId}`);
          await page.locator('#error-timeline tr.error-row').first().waitFor();
          await expect(page.locator('#error-timeline tr.error-row').count()).resolves.toBe(1);
          await expect(page.locator('#error-timeline tr.error-row').textContent()).resolves.toContain('the gate is closed: open.marker is missing');
          await expect(page.locator('#flow-head .badge').textContent()).resolves.toBe('failed');
          // The step after the failed one says what it waits for.
          await expect(page.locator('#steps tr[data-step="double"] .blocked').textContent()).resolves.toBe('blocked by gate');
          // The flow graph: the server's picture, loaded as an image, the failed step drawn failed.
          expect(await graphNodes(page)).toEqual([
            ['seed', 'FinishedOk'],
            ['gate', 'Failed'],
            ['double', 'Pending'],
          ]);
          await expect(page.locator('img#flow-graph').getAttribute('alt')).resolves.toContain('gate: failed, 1 attempt(s), 0 retry(ies), needs seed.');
          if (setup.screenshots) await shot(page, 'ui-flow.png');

          // An action without the token is refused and changes nothing.
          const before = (await (await fetch(`${base}/api/flows/${gated.flowId}/events`)).json()) as unknown[];
          const refused = await page.evaluate(
            async (path) => (await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stepId: 'gate' }) })).status,
            `/api/flows/${gated.flowId}/retry`,
          );
          expect(refused).toBe(401);
          expect(await (await fetch(`${base}/api/flows/${gated.flowId}/events`)).json()).toEqual(before);

          // Retry with the token: the step runs and the flow completes on this page, without a reload.
          await writeFile(join(ws.dir, 'open.marker'), '');
          await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));
          await page.click('button.retry[data-step="gate"]');
          await page.locator('#flow-head .badge', { hasText: 'completed' }).waitFor({ timeout: 90_000 });
          await expect(page.locator('#steps tr[data-step="gate"]').getAttribute('data-status')).resolves.toBe('FinishedOk');
          await expect(page.locator('#steps .blocked').count()).resolves.toBe(0);
          await expect(page.locator('#error-timeline tr.error-row').textContent()).resolves.toContain('retry 1');
          // The graph followed, without a reload.
          expect(await graphNodes(page)).toEqual([
            ['seed', 'FinishedOk'],
            ['gate', 'FinishedOk'],
            ['double', 'FinishedOk'],
          ]);
          await expect(page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).resolves.toBe(true);

          // Cancel a running flow.
          await page.goto(`${base}/flows/${slow.flowId}`);
          if (!setup.worker) await page.click('#resume');
          await waitUntil(() => existsSync(join(ws.dir, 'started.marker')), 'the slow step to start');
          await page.locator('#flow-head .badge', { hasText: 'running' }).waitFor();
          await page.click('#cancel');
          await page.locator('#flow-head .badge', { hasText: 'cancelled' }).waitFor();
          await writeFile(join(ws.dir, 'release.marker'), '');
          await expect(page.locator('#events tbody').textContent()).resolves.toContain('FlowCancelled');

          // The errors page, across flows.
          await page.goto(`${base}/errors`);
          await page.locator('#errors tr.error-row').first().waitFor();
          await expect(page.locator('#errors tr.error-row', { hasText: 'gated' }).count()).resolves.toBe(1);
          if (setup.screenshots) await shot(page, 'ui-errors.png');
          expect(problems).toEqual([]);
          await page.close();

          ui.kill('SIGTERM');
          await expect(ui.exited).resolves.toBe(0);
        } finally {
          // The slow step waits for this file: a worker stopping lets its attempt end first.
          await writeFile(join(ws.dir, 'release.marker'), '').catch(() => undefined);
          for (const p of processes) p.kill('SIGTERM');
          await Promise.all(processes.map((p) => p.exited));
          await ws.remove();
          await drop();
        }
      },
    );
  }
});

/** The steps the flow page's graph image draws, with their statuses, once the image has loaded. */
async function graphNodes(page: Page): Promise<string[][]> {
  const image = page.locator('img#flow-graph');
  await waitUntil(async () => (await image.evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth > 0)) || undefined, 'the graph image to load');
  const svg = await image.evaluate(async (img: { src: string }) => (await fetch(img.src)).text());
  return [...svg.matchAll(/<g class="graph-node [^"]*" data-step="([^"]*)" data-status="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']);
}

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(IMAGES, { recursive: true });
  const png = await page.screenshot({ path: join(IMAGES, name), fullPage: true });
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
}

