import { readFile } from 'node:fs/promises';
import { sha256OfBytes } from '../../core/chunk.js';
import type { FlowStore } from '../../stores/flow-store.js';
import { reportWrittenOf } from '../../steps/report-written.js';
import { readStoredFlow } from '../flow-report.js';
import { HttpError } from './http-errors.js';

/**
 * The HTML report a flow wrote (the last one, when it wrote several), read from where the report step
 * wrote it and checked against the SHA-256 the step recorded: a page rewritten since (by a later run
 * into the same directory) or edited is refused rather than shown as this flow's.
 */
export async function writtenReport(store: FlowStore, flowId: string): Promise<Buffer> {
  const { events } = await readStoredFlow(store, flowId);
  let page: { html: string; sha256: string } | undefined;
  for (const event of events) if (event.type === 'StepSignal') page = reportWrittenOf(event.name, event.data) ?? page;
  if (page === undefined) throw new HttpError(404, 'UI_NOT_FOUND', `flow ${flowId} wrote no HTML report`);
  if (!page.html.endsWith('.html')) throw new HttpError(404, 'UI_NOT_FOUND', `flow ${flowId} names no HTML page as its report`);
  let bytes: Buffer;
  try {
    bytes = await readFile(page.html);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new HttpError(
      404,
      'REPORT_MISSING',
      `the report of flow ${flowId} is not at ${page.html}${code === undefined ? '' : ` (${code})`}`,
      'it was written on the machine that ran the step; it may have been moved or deleted since',
    );
  }
  const actual = sha256OfBytes(bytes);
  if (actual !== page.sha256)
    throw new HttpError(
      409,
      'REPORT_CHANGED',
      `${page.html} is no longer the report flow ${flowId} wrote (SHA-256 ${actual}, written as ${page.sha256})`,
      'a later run into the same directory writes over it: run the flow again, or give its report step another outDir',
    );
  return bytes;
}
