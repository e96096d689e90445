import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { z } from 'zod';
import type { StepModule } from '../core/definition.js';
import { PermanentError } from '../core/error-class.js';
import { sha256Hex } from '../core/hash.js';
import { CHEM_KINDS, ROWS, type ReportSummary } from './chem-artifacts.js';
import { ALLOW_OUTSIDE, outDirLeavesBase, outputBaseDir, resolveOutDir } from './output-dir.js';
import { paramsParser } from './params.js';
import { depictionSvg } from './depiction.js';
import { reportHtml } from './report-html.js';
import { reportWrittenSignal } from './report-written.js';
import { ShownSelector, type ReportSelection, type ShownBounds, type ShownRows } from './report-selection.js';
import { reportCsvHeader, reportCsvLine, reportRows, reportRowStream, RowsOutOfOrder, type ReportRow, type ReportStreams } from './report-table.js';
import { PlotPoints, type PlotData } from './plot-points.js';
import { optionalRowsInputOf, rowsInputOf } from './step-io.js';

const parseShape = paramsParser({
  /**
   * Directory of the report, relative to the flow file's directory (the working directory when the
   * flow file is inside an installed package, see `outputBaseDir`); created when missing.
   */
  outDir: z.string().min(1).default('out'),
  /**
   * Lets `outDir` be absolute or lead out with `..` (or through a link). No default, so that a flow
   * without it keeps the step fingerprint it had before the param existed.
   */
  allowOutside: z.boolean().optional(),
  /** File name of the report without extension: `<name>.csv` and `<name>.html`. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'expected a file name of letters, digits, ".", "_" or "-" (no directory)')
    .default('report'),
  title: z.string().min(1).default('Lipinski rule of five'),
  /**
   * At most this many failing molecules (the most violations first) are shown in the HTML page, each
   * with its structure; the CSV has them all. 200 shows every failure of a typical screen and keeps a
   * page of a pathological one under a few megabytes (a drawing is 2–6 kB).
   */
  maxFailedShown: z.number().int().min(0).max(10_000).default(200),
  /** At most this many passing molecules (in input order) are shown in the HTML page, with structures. */
  maxPassedShown: z.number().int().min(0).max(10_000).default(200),
});
export type ReportParams = ReturnType<typeof parseShape>;

/** The params, and an `outDir` outside its base directory refused at load time unless allowed. */
function parseParams(params: unknown): ReportParams {
  const parsed = parseShape(params);
  const leaves = parsed.allowOutside === true ? undefined : outDirLeavesBase(parsed.outDir);
  if (leaves !== undefined)
    throw new z.ZodError([
      {
        code: 'custom',
        path: ['outDir'],
        input: parsed.outDir,
        message: `${JSON.stringify(parsed.outDir)} ${leaves}: the report is written inside the flow file's directory unless the step sets ${ALLOW_OUTSIDE}: true`,
      },
    ]);
  return parsed;
}

/**
 * `chem/report` (sink): joins `chem/lipinski`, `chem/descriptors` and, when present,
 * `chem/provided-properties` and `chem/rejected-rows` into `<outDir>/<name>.csv` (one row per input
 * row) and a self-contained `<outDir>/<name>.html` (summary, MW–cLogP plot, error timeline, tables).
 * Its `chem/report` artifact holds the files' paths relative to the base directory (absolute when
 * outside it), the CSV's hash and the counts — not the HTML's hash, since the page shows this run's
 * error times. Its note names the files by absolute path: what was written, wherever the user stands.
 */
export const report: StepModule<ReportParams> = {
  kind: 'sink',
  // 2: the page shows structure drawings and a bounded selection of molecules. 3: CSV text cells a
  // spreadsheet would run as formulas are neutralised; a report outside the base has absolute paths.
  version: '3',
  parseParams,
  notMappable: 'it writes one report, and counts, of the whole batch',
  // Its result is files outside the store (and a page showing this run's flow id and error times): a
  // cache hit would leave them unwritten, so the report always runs.
  cacheable: false,
  streaming: true,
  async run(ctx) {
    const base = outputBaseDir(ctx.baseDir);
    const dir = await resolveOutDir(base, ctx.params.outDir, ctx.params.allowOutside === true);
    const lipinski = rowsInputOf(ctx.input, CHEM_KINDS.lipinski, ROWS.lipinski);
    const descriptors = rowsInputOf(ctx.input, CHEM_KINDS.descriptors, ROWS.descriptors);
    const provided = optionalRowsInputOf(ctx.input, CHEM_KINDS.providedProperties, ROWS.providedProperties);
    const rejectedRows = optionalRowsInputOf(ctx.input, CHEM_KINDS.rejectedRows, ROWS.rejectedRows);
    const streams: ReportStreams = {
      verdicts: () => lipinski.chunks(),
      descriptors: () => descriptors.chunks(),
      provided: provided && (() => provided.chunks()),
      rejected: rejectedRows && (() => rejectedRows.chunks()),
    };

    const csvFile = join(dir, `${ctx.params.name}.csv`);
    const htmlFile = join(dir, `${ctx.params.name}.html`);
    const bounds = { failed: ctx.params.maxFailedShown, passed: ctx.params.maxPassedShown };
    await unwritable(dir, ctx.params.outDir, () => mkdir(dir, { recursive: true }));
    let written: WrittenRows;
    try {
      written = await writeReportCsv(csvFile, reportRowStream(streams), bounds, dir, ctx.params.outDir);
    } catch (error) {
      if (!(error instanceof RowsOutOfOrder)) throw error;
      written = await writeReportCsv(csvFile, sortedRows(streams), bounds, dir, ctx.params.outDir);
    }
    const { selection, plot, rejected } = written;
    const html = reportHtml({
      title: ctx.params.title,
      flowId: ctx.flowId,
      molecules: written.molecules,
      plot,
      rejected,
      lipinski: lipinski.header,
      errorHistory: ctx.errorHistory,
      flowSteps: ctx.flowSteps ?? [],
      cachedSteps: ctx.cachedSteps ?? [],
      selection,
      depictions: await depictionsOf(selection),
      csvName: `${ctx.params.name}.csv`,
    });
    await unwritable(dir, ctx.params.outDir, () => writeAtomically(htmlFile, html));
    const page = reportWrittenSignal(htmlFile, sha256Hex(html));
    ctx.emit(page.name, page.data);
    const summary: ReportSummary = {
      csv: { path: portable(base, csvFile), sha256: written.sha256, rows: written.rows },
      html: { path: portable(base, htmlFile) },
      counts: {
        molecules: lipinski.rowCount,
        passed: lipinski.header.passed,
        failed: lipinski.header.failed,
        rejected: rejected.total,
      },
    };
    const { molecules, passed, failed } = summary.counts;
    ctx.emit(
      'note',
      `${molecules} molecules: ${passed} pass the rule of five, ${failed} fail; ${rejected.total} input row(s) rejected. ` +
        `Wrote ${csvFile} and ${htmlFile}`,
    );
    return { outputs: [{ kind: CHEM_KINDS.report, payload: { ...summary } }] };
  },
};

/** What the page needs of the rows written to the CSV: its bounded tables, the plot and the rejected rows. */
interface WrittenRows {
  sha256: string;
  rows: number;
  /** Rows that are molecules (not rejected). */
  molecules: number;
  selection: ReportSelection;
  plot: PlotData;
  rejected: ShownRows;
}

/**
 * The page lists at most this many rejected rows (the first, in file order); the CSV has them all. A
 * file of mostly unreadable rows would otherwise put every one of them in the page and in memory.
 */
export const MAX_REJECTED_SHOWN = 1000;

/**
 * Writes the CSV as its rows come (to a temporary file renamed at the end, so a reader never sees half
 * a report and a failure leaves the previous one), hashing it as it goes, and keeps of each row only
 * what the page shows, in memory bounded whatever the number of rows: the plot's points (`PlotPoints`),
 * the first rejected rows and the rows of the bounded selection.
 */
async function writeReportCsv(file: string, rows: AsyncIterable<ReportRow>, bounds: ShownBounds, dir: string, outDir: string): Promise<WrittenRows> {
  const temporary = `${file}.${process.pid}.tmp`;
  const out = createWriteStream(temporary, { encoding: 'utf8' });
  const failed = new Promise<never>((_resolve, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  const hash = createHash('sha256');
  const selector = new ShownSelector(bounds);
  const plot = new PlotPoints();
  const rejected: ReportRow[] = [];
  let rejectedTotal = 0;
  let count = 0;
  let pending = reportCsvHeader();
  const flush = async (): Promise<void> => {
    hash.update(pending, 'utf8');
    const text = pending;
    pending = '';
    if (!out.write(text)) await Promise.race([once(out, 'drain'), failed]);
  };
  try {
    for await (const row of rows) {
      count++;
      pending += reportCsvLine(row);
      if (pending.length >= CSV_WRITE_BYTES) await unwritable(dir, outDir, flush);
      selector.add(row);
      if (row.status === 'rejected') {
        if (rejectedTotal++ < MAX_REJECTED_SHOWN) rejected.push(row);
      } else plot.add({ name: row.name, status: row.status, inchikey: row.inchikey, violations: row.violations, descriptors: row.descriptors && { mw: row.descriptors.mw, clogp: row.descriptors.clogp } }, row.line);
    }
    await unwritable(dir, outDir, async () => {
      await flush();
      out.end();
      await Promise.race([once(out, 'finish'), failed]);
      await rename(temporary, file);
    });
  } catch (error) {
    out.destroy();
    await rm(temporary, { force: true });
    throw error;
  }
  const rejectedRows: ShownRows = { rows: rejected, total: rejectedTotal };
  return { sha256: hash.digest('hex'), rows: count, molecules: count - rejectedTotal, selection: selector.selection(), plot: plot.data(), rejected: rejectedRows };
}

/** Text written to the CSV file at a time. */
const CSV_WRITE_BYTES = 64 * 1024;

/** The rows read whole and sorted by line, for inputs that are not in line order. */
async function* sortedRows(streams: ReportStreams): AsyncGenerator<ReportRow> {
  const all = async <R>(read: (() => AsyncIterable<readonly R[]>) | undefined): Promise<R[]> => {
    const rows: R[] = [];
    if (read !== undefined) for await (const chunk of read()) rows.push(...chunk);
    return rows;
  };
  const none = <R>(read: (() => AsyncIterable<readonly R[]>) | undefined, rows: R[]): R[] | undefined => (read === undefined ? undefined : rows);
  const [verdicts, descriptors, provided, rejected] = await Promise.all([all(streams.verdicts), all(streams.descriptors), all(streams.provided), all(streams.rejected)]);
  const rule = { maxViolations: 0, limits: { mw: 0, clogp: 0, hbd: 0, hba: 0 } };
  yield* reportRows({
    lipinski: { rule, passed: 0, failed: 0, verdicts },
    descriptors: { decimals: 0, rows: descriptors },
    provided: none(streams.provided, provided) && { provider: '', rows: provided },
    rejected: none(streams.rejected, rejected) && { source: '', rows: rejected },
  });
}

/** Runs a file system write; its failure is the report's `REPORT_UNWRITABLE`. */
async function unwritable<T>(dir: string, outDir: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw new PermanentError(`cannot write the report to ${dir}: ${(error as Error).message}`, {
      code: 'REPORT_UNWRITABLE',
      details: { outDir },
      cause: error,
    });
  }
}

/** The structure drawing of each molecule the page shows, by input line. */
async function depictionsOf(selection: ReportSelection): Promise<Map<number, string>> {
  const shown: ReportRow[] = [...selection.failed.rows, ...selection.passed.rows];
  const depictions = new Map<number, string>();
  for (const row of shown) depictions.set(row.line, await depictionSvg(row.smiles, `Structure of ${row.name}`));
  return depictions;
}

/** Write then rename: a reader never sees half a report, and a crash leaves the previous one. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text, 'utf8');
  await rename(temporary, file);
}

/**
 * A path inside the base directory relative to it with `/`: the same on every machine and clone. A
 * file outside it (allowed by `allowOutside`) keeps its absolute path: relative, it would still name a
 * place on this machine only, and less plainly.
 */
function portable(base: string, file: string): string {
  const path = relative(base, file);
  return path === '..' || path.startsWith(`..${sep}`) || isAbsolute(path) ? file : path.split(sep).join('/');
}
