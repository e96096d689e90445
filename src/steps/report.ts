import { mkdir, rename, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { z } from 'zod';
import type { StepModule } from '../core/definition.js';
import { PermanentError } from '../core/error-class.js';
import { sha256Hex } from '../core/hash.js';
import {
  CHEM_KINDS,
  descriptorTableSchema,
  lipinskiSchema,
  providedPropertiesSchema,
  rejectedRowsSchema,
  type ReportSummary,
} from './chem-artifacts.js';
import { ALLOW_OUTSIDE, outDirLeavesBase, outputBaseDir, resolveOutDir } from './output-dir.js';
import { paramsParser } from './params.js';
import { depictionSvg } from './depiction.js';
import { reportHtml } from './report-html.js';
import { selectShown, type ReportSelection } from './report-selection.js';
import { reportCsv, reportRows, type ReportRow } from './report-table.js';
import { inputOf, optionalInputOf } from './step-io.js';

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
  async run(ctx) {
    const base = outputBaseDir(ctx.baseDir);
    const dir = await resolveOutDir(base, ctx.params.outDir, ctx.params.allowOutside === true);
    const lipinski = inputOf(ctx.input, CHEM_KINDS.lipinski, lipinskiSchema);
    const rows = reportRows({
      lipinski,
      descriptors: inputOf(ctx.input, CHEM_KINDS.descriptors, descriptorTableSchema),
      provided: optionalInputOf(ctx.input, CHEM_KINDS.providedProperties, providedPropertiesSchema),
      rejected: optionalInputOf(ctx.input, CHEM_KINDS.rejectedRows, rejectedRowsSchema),
    });
    const csv = reportCsv(rows);
    const selection = selectShown(rows, { failed: ctx.params.maxFailedShown, passed: ctx.params.maxPassedShown });
    const html = reportHtml({
      title: ctx.params.title,
      flowId: ctx.flowId,
      rows,
      lipinski,
      errorHistory: ctx.errorHistory,
      cachedSteps: ctx.cachedSteps ?? [],
      selection,
      depictions: await depictionsOf(selection),
      csvName: `${ctx.params.name}.csv`,
    });

    const csvFile = join(dir, `${ctx.params.name}.csv`);
    const htmlFile = join(dir, `${ctx.params.name}.html`);
    try {
      await mkdir(dir, { recursive: true });
      await writeAtomically(csvFile, csv);
      await writeAtomically(htmlFile, html);
    } catch (error) {
      throw new PermanentError(`cannot write the report to ${dir}: ${(error as Error).message}`, {
        code: 'REPORT_UNWRITABLE',
        details: { outDir: ctx.params.outDir },
        cause: error,
      });
    }
    const summary: ReportSummary = {
      csv: { path: portable(base, csvFile), sha256: sha256Hex(csv), rows: rows.length },
      html: { path: portable(base, htmlFile) },
      counts: {
        molecules: lipinski.verdicts.length,
        passed: lipinski.passed,
        failed: lipinski.failed,
        rejected: rows.filter((r) => r.status === 'rejected').length,
      },
    };
    const { molecules, passed, failed, rejected } = summary.counts;
    ctx.emit(
      'note',
      `${molecules} molecules: ${passed} pass the rule of five, ${failed} fail; ${rejected} input row(s) rejected. ` +
        `Wrote ${csvFile} and ${htmlFile}`,
    );
    return { outputs: [{ kind: CHEM_KINDS.report, payload: { ...summary } }] };
  },
};

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
