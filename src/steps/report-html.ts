import type { CachedStepEntry, ErrorHistoryEntry } from '../core/definition.js';
import type { LipinskiResult } from './chem-artifacts.js';
import { errorClassesIn, errorTimelineSvg } from './error-timeline.js';
import { flowGraphSvg, type FlowGraphStep } from './flow-graph-svg.js';
import type { ReportSelection, ShownRows } from './report-selection.js';
import type { ReportRow } from './report-table.js';
import type { PlotData } from './plot-points.js';
import { scatterPlotSvg } from './scatter-plot.js';
import { escapeXml } from './svg.js';

export interface ReportPage {
  title: string;
  flowId: string;
  /** How many input rows are molecules (the others were rejected). */
  molecules: number;
  /** The plot's points (every molecule, or a bounded sample of a verdict with very many). */
  plot: PlotData;
  /** The first rejected input rows, out of how many there are. */
  rejected: ShownRows;
  /** The verdicts' rule and counts. */
  lipinski: Omit<LipinskiResult, 'verdicts'>;
  errorHistory: readonly ErrorHistoryEntry[];
  /** The flow's steps as they stood when the page was written (the report's own step running); empty: no picture. */
  flowSteps: readonly FlowGraphStep[];
  /** Steps of the flow taken from the step cache rather than run. */
  cachedSteps: readonly CachedStepEntry[];
  /** The molecules the tables show (all rows are in the plot and the CSV). */
  selection: ReportSelection;
  /** Inline SVG structure drawing of each shown molecule, by input line. */
  depictions: ReadonlyMap<number, string>;
  /** File name of the CSV beside the page, which has every row. */
  csvName: string;
}

const RULE_NAMES: Record<string, string> = { mw: 'MW', clogp: 'cLogP', hbd: 'HBD', hba: 'HBA' };

/**
 * A self-contained HTML page: inline CSS and SVG, no script and a Content-Security-Policy that forbids
 * loading anything, so it opens the same from a file, a mail attachment or a CI artifact.
 */
export function reportHtml(page: ReportPage): string {
  const { rejected, lipinski } = page;
  const { limits, maxViolations } = lipinski.rule;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeXml(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeXml(page.title)}</h1>
<p class="summary"><strong>${page.molecules}</strong> molecules read, <strong>${rejected.total}</strong> input row(s) rejected.
<strong class="pass">${lipinski.passed}</strong> pass the rule of five (at most ${maxViolations} of MW&nbsp;&gt;&nbsp;${limits.mw}, cLogP&nbsp;&gt;&nbsp;${limits.clogp}, HBD&nbsp;&gt;&nbsp;${limits.hbd}, HBA&nbsp;&gt;&nbsp;${limits.hba}), <strong class="fail">${lipinski.failed}</strong> fail.</p>
<p class="flow">Flow <code>${escapeXml(page.flowId)}</code></p>
${cachedNote(page.cachedSteps)}
</header>
<section id="plot">
<h2>Molecular weight against cLogP</h2>
${scatterPlotSvg(page.plot, limits)}
</section>
<div class="flow-state">
${graphSection(page.flowSteps)}<section id="errors">
<h2>Error timeline</h2>
${errorTimelineSvg(page.errorHistory)}
${errorLegend(page.errorHistory)}
</section>
</div>
${errorTable(page.errorHistory)}
${rejected.total > 0 ? rejectedSection(rejected, page.csvName) : ''}
${moleculesSection('failed', 'Molecules that fail the rule', page.selection.failed, page)}
${moleculesSection('passed', 'Molecules that pass the rule', page.selection.passed, page)}
</body>
</html>
`;
}

/**
 * One table of molecules of a verdict with their structures, under a line saying how many of them it
 * shows: on a big screen the page shows a bounded selection and the CSV has the rest.
 */
function moleculesSection(id: string, heading: string, shown: ShownRows, page: ReportPage): string {
  const csv = `<a href="${escapeXml(page.csvName)}">${escapeXml(page.csvName)}</a>`;
  const count =
    shown.rows.length === shown.total
      ? `Showing all ${shown.total}; the full table is in ${csv}.`
      : `Showing ${shown.rows.length} of ${shown.total}; the full table is in ${csv}.`;
  const table =
    shown.rows.length === 0
      ? ''
      : `<table class="molecules">
<thead><tr><th>Line</th><th>Structure</th><th>Name</th><th>Verdict</th><th>MW</th><th>cLogP</th><th>HBD</th><th>HBA</th><th>TPSA</th><th>Rot. bonds</th><th>Formula</th><th>InChIKey</th><th>SMILES</th></tr></thead>
<tbody>
${shown.rows.map((r) => moleculeRow(r, page.depictions.get(r.line) ?? '')).join('\n')}
</tbody>
</table>`;
  return `<section id="${id}">
<h2>${heading} (${shown.total})</h2>
<p class="shown">${count}</p>
${table}
</section>`;
}

function moleculeRow(r: ReportRow, depiction: string): string {
  const d = r.descriptors;
  const verdict = r.status === 'pass' ? 'passes' : 'fails';
  const exceeded = r.violations.length > 0 ? ` <span class="violations">(${r.violations.map((v) => RULE_NAMES[v] ?? v).join(', ')})</span>` : '';
  const cell = (value: number | string | undefined): string => `<td class="num">${value === undefined ? '' : escapeXml(String(value))}</td>`;
  return (
    `<tr class="${r.status}"><td class="num">${r.line}</td><td class="structure">${depiction}</td><td>${escapeXml(r.name)}</td><td class="verdict">${verdict}${exceeded}</td>` +
    cell(d?.mw) + cell(d?.clogp) + cell(d?.hbd) + cell(d?.hba) + cell(d?.tpsa) + cell(d?.rotatableBonds) +
    `<td>${escapeXml(r.provided?.formula ?? '')}</td><td class="mono">${escapeXml(r.inchikey ?? '')}</td><td class="mono smiles">${escapeXml(r.smiles)}</td></tr>`
  );
}

/** Which results were reused, and from which flow: a reader must know they were not computed in this run. */
function cachedNote(steps: readonly CachedStepEntry[]): string {
  if (steps.length === 0) return '';
  const items = steps.map(
    (s) => `<li><code>${escapeXml(s.stepId)}</code> from flow <code>${escapeXml(s.cachedFrom.flowId)}</code>, step <code>${escapeXml(s.cachedFrom.stepId)}</code></li>`,
  );
  return `<p class="cached">${steps.length} step(s) were taken from the step cache, not run in this flow:</p>\n<ul class="cached">\n${items.join('\n')}\n</ul>`;
}

/** The rejected rows, all of them up to a bound (the CSV has every one); beyond, a line says how many are shown. */
function rejectedSection(rejected: ShownRows, csvName: string): string {
  const rows = rejected.rows;
  const shown =
    rows.length === rejected.total
      ? ''
      : `<p class="shown">Showing the first ${rows.length} of ${rejected.total}; every one is in <a href="${escapeXml(csvName)}">${escapeXml(csvName)}</a>.</p>\n`;
  return `<section id="rejected">
<h2>Rejected input rows</h2>
${shown}<table class="rejected">
<thead><tr><th>Line</th><th>Name</th><th>SMILES</th><th>Reason</th></tr></thead>
<tbody>
${rows.map((r) => `<tr><td class="num">${r.line}</td><td>${escapeXml(r.name)}</td><td class="mono smiles">${escapeXml(r.smiles)}</td><td>${escapeXml(r.reason)}</td></tr>`).join('\n')}
</tbody>
</table>
</section>`;
}

/**
 * The flow's steps as a graph beside the error timeline: which steps failed and how often they were
 * retried, at a glance. A flow written as a list is drawn too, as the straight line it is: the same
 * boxes say the same things, and a reader need not know which kind of flow made the page.
 */
function graphSection(steps: readonly FlowGraphStep[]): string {
  if (steps.length === 0) return '';
  return `<section id="graph">
<h2>Flow graph</h2>
${flowGraphSvg(steps)}
<p class="graph-note">Each step as it stood when this page was written (this report's own step was running), with its attempts and retries; an arrow goes from a step to each step that needs it.</p>
</section>
`;
}

function errorLegend(history: readonly ErrorHistoryEntry[]): string {
  const classes = errorClassesIn(history);
  if (classes.length === 0) return '';
  return `<p class="legend">${classes.map((c) => `<span class="swatch ${c.toLowerCase()}"></span>${c}`).join(' ')}</p>`;
}

function errorTable(history: readonly ErrorHistoryEntry[]): string {
  if (history.length === 0) return '';
  return `<table class="errors">
<thead><tr><th>Step</th><th>Attempt</th><th>Class</th><th>Time</th><th>Message</th></tr></thead>
<tbody>
${history.map((e) => `<tr><td>${escapeXml(e.stepId)}</td><td class="num">${e.attemptNumber}</td><td>${e.errorClass}</td><td class="mono">${escapeXml(e.timestamp)}</td><td>${escapeXml(e.message)}</td></tr>`).join('\n')}
</tbody>
</table>`;
}

const STYLE = `
/* The molecule tables have 13 columns: on a wide screen they take its width rather than wrap. */
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #212529; margin: 24px auto; max-width: 1880px; padding: 0 16px; }
h1 { font-size: 24px; margin: 0 0 8px; } h2 { font-size: 18px; margin: 28px 0 10px; }
.summary strong.pass { color: #2b8a3e; } .summary strong.fail { color: #c92a2a; }
.flow { color: #868e96; font-size: 12px; margin: 0; }
.cached { color: #5c7cfa; font-size: 12px; margin: 4px 0 0; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
svg { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg:not(.flow-graph) text { fill: #495057; pointer-events: none; } /* hovering a point under a label still shows its title */
.plot .ro5-region { fill: #ebfbee; }
.plot .grid { stroke: #e9ecef; }
.plot .limit { stroke: #868e96; stroke-dasharray: 6 4; stroke-width: 1.2; }
.plot .limit-label { fill: #868e96; font-size: 11px; }
.plot .axis-label, .timeline .axis-label { font-size: 13px; fill: #343a40; }
.plot .point { stroke: #fff; stroke-width: 0.8; fill-opacity: 0.85; }
.plot .point.pass, .legend-mark.pass { fill: #2b8a3e; }
.plot .point.fail, .legend-mark.fail { fill: #c92a2a; }
.plot .dots { fill: none; stroke-width: 9; stroke-linecap: round; stroke-opacity: 0.85; }
.plot .dots.pass { stroke: #2b8a3e; } .plot .dots.fail { stroke: #c92a2a; }
.plot .point-label { fill: #c92a2a; font-size: 11px; }
.plot .legend-box { fill: #fff; stroke: #dee2e6; }
.timeline .lane { stroke: #dee2e6; } .timeline .axis { stroke: #adb5bd; }
.timeline .lane-label { font-size: 13px; fill: #343a40; }
.error-marker circle { stroke: #fff; stroke-width: 1.5; }
.error-marker text { font-size: 11px; }
.error-marker.transient circle, .swatch.transient { fill: #f08c00; background: #f08c00; }
.error-marker.permanent circle, .swatch.permanent { fill: #c92a2a; background: #c92a2a; }
.error-marker.validation circle, .swatch.validation { fill: #7048e8; background: #7048e8; }
.error-marker.runtime circle, .swatch.runtime { fill: #495057; background: #495057; }
.legend .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin: 0 4px 0 12px; }
.no-errors { color: #2b8a3e; }
/* The graph and the error timeline side by side when the screen holds both, else one above the other. */
.flow-state { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 0 40px; }
/* The graph takes what the timeline leaves, down to 720 px (drawn smaller if need be); below that it goes above, at full size. */
.flow-state > #graph { flex: 1 1 720px; min-width: 0; }
.flow-state > #errors { flex: 0 1 auto; min-width: 0; max-width: 100%; }
.graph-note { color: #868e96; font-size: 12px; margin: 4px 0 0; max-width: 760px; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; }
th, td { border-bottom: 1px solid #e9ecef; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f8f9fa; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
/* A SMILES has no spaces: it breaks anywhere (full lines, not at each "(" or "-"), and only in a column of 30 characters or more. */
td.smiles { word-break: break-all; min-width: 30ch; }
tr.fail td.verdict { color: #c92a2a; } tr.pass td.verdict { color: #2b8a3e; }
.violations { color: #868e96; }
.shown { color: #495057; font-size: 13px; margin: 0; }
td.structure { padding: 2px; }
td.structure svg { width: 220px; max-width: none; height: 160px; background: #fff; }
.no-depiction { color: #868e96; font-size: 12px; }
`;
