import type { LipinskiLimits } from './chem-artifacts.js';
import { type PlotData, type VerdictPoints } from './plot-points.js';
import type { ReportRow } from './report-table.js';
import { escapeXml, linearScale, niceTicks, px } from './svg.js';

const WIDTH = 760;
const HEIGHT = 460;
const MARGIN = { top: 24, right: 28, bottom: 56, left: 72 };
/** Failing molecules are named on the plot up to this many; beyond, names would only overlap. */
const MAX_LABELS = 12;

/** What the plot needs of a report row: a report keeps this much of every molecule for it. */
export type PlotRow = Pick<ReportRow, 'name' | 'status' | 'inchikey' | 'violations'> & {
  readonly descriptors: { readonly mw: number; readonly clogp: number } | undefined;
};

interface Point {
  row: PlotRow;
  mw: number;
  clogp: number;
}

type Scale = (v: number) => number;

/**
 * Molecular weight against cLogP as an inline SVG: one `circle.point` per molecule (green passes, red
 * fails, named), each with a `<title>` so hovering names it, or one `path.dots` for a verdict of more
 * than `MAX_POINT_CIRCLES` molecules; the rule-of-five box MW ≤ limit, cLogP ≤ limit shaded, dashed
 * limit lines. The axes cover every molecule; a verdict of more than `MAX_PLOTTED_POINTS` molecules is
 * drawn from its deterministic sample (see `PlotPoints`), and its title says so.
 */
export function scatterPlotSvg(plot: PlotData, limits: LipinskiLimits): string {
  const { extent } = plot;
  const xTicks = niceTicks(Math.min(0, extent?.minClogp ?? 0), Math.max(limits.clogp, extent?.maxClogp ?? limits.clogp));
  const yTicks = niceTicks(0, Math.max(limits.mw, extent?.maxMw ?? limits.mw));
  const xDomain = [xTicks[0] ?? 0, xTicks[xTicks.length - 1] ?? 1] as const;
  const yDomain = [yTicks[0] ?? 0, yTicks[yTicks.length - 1] ?? 1] as const;
  const x = linearScale(xDomain, [MARGIN.left, WIDTH - MARGIN.right]);
  const y = linearScale(yDomain, [HEIGHT - MARGIN.bottom, MARGIN.top]);
  const fails = plot.fail.rows === undefined ? undefined : pointsOf(plot.fail.rows);

  const parts = [
    `<svg id="mw-clogp-plot" class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-labelledby="mw-clogp-title">`,
    `<title id="mw-clogp-title">Molecular weight against cLogP of ${plot.pass.total + plot.fail.total} molecules</title>`,
    `<rect class="ro5-region" x="${px(x(xDomain[0]))}" y="${px(y(limits.mw))}" width="${px(x(limits.clogp) - x(xDomain[0]))}" height="${px(y(yDomain[0]) - y(limits.mw))}"/>`,
    ...xTicks.map((t) => `<line class="grid" x1="${px(x(t))}" x2="${px(x(t))}" y1="${px(y(yDomain[0]))}" y2="${px(y(yDomain[1]))}"/><text class="tick" x="${px(x(t))}" y="${px(HEIGHT - MARGIN.bottom + 18)}" text-anchor="middle">${t}</text>`),
    ...yTicks.map((t) => `<line class="grid" x1="${px(x(xDomain[0]))}" x2="${px(x(xDomain[1]))}" y1="${px(y(t))}" y2="${px(y(t))}"/><text class="tick" x="${px(MARGIN.left - 8)}" y="${px(y(t) + 4)}" text-anchor="end">${t}</text>`),
    `<line class="limit" x1="${px(x(limits.clogp))}" x2="${px(x(limits.clogp))}" y1="${px(y(yDomain[0]))}" y2="${px(y(yDomain[1]))}"/>`,
    `<line class="limit" x1="${px(x(xDomain[0]))}" x2="${px(x(xDomain[1]))}" y1="${px(y(limits.mw))}" y2="${px(y(limits.mw))}"/>`,
    `<text class="limit-label" x="${px(x(limits.clogp) + 4)}" y="${px(MARGIN.top + 12)}">cLogP = ${limits.clogp}</text>`,
    `<text class="limit-label" x="${px(x(xDomain[0]) + 4)}" y="${px(y(limits.mw) - 5)}">MW = ${limits.mw}</text>`,
    `<text class="axis-label" x="${px((MARGIN.left + WIDTH - MARGIN.right) / 2)}" y="${HEIGHT - 12}" text-anchor="middle">cLogP (Crippen)</text>`,
    `<text class="axis-label" transform="translate(18 ${px((MARGIN.top + HEIGHT - MARGIN.bottom) / 2)}) rotate(-90)" text-anchor="middle">Molecular weight (g/mol)</text>`,
    // Passing points first, so the few failing ones are drawn on top.
    pointsSvg(plot.pass, 'pass', x, y),
    pointsSvg(plot.fail, 'fail', x, y),
    ...(fails !== undefined && fails.length <= MAX_LABELS ? fails.map((p) => `<text class="point-label" x="${px(x(p.clogp) + 7)}" y="${px(y(p.mw) + 4)}">${escapeXml(p.row.name)}</text>`) : []),
    // Bottom right: light, very lipophilic molecules are rare, so that corner is usually empty.
    legendSvg(WIDTH - MARGIN.right - 150, HEIGHT - MARGIN.bottom - 58),
    '</svg>',
  ];
  return parts.join('\n');
}

function pointsOf(rows: readonly PlotRow[]): Point[] {
  return rows.flatMap((row) => (row.descriptors ? [{ row, mw: row.descriptors.mw, clogp: row.descriptors.clogp }] : []));
}

function pointsSvg(points: VerdictPoints, status: 'pass' | 'fail', x: Scale, y: Scale): string {
  if (points.total === 0) return '';
  if (points.rows !== undefined) return pointsOf(points.rows).map((p) => pointSvg(p, x, y)).join('\n');
  return dotsSvg(points, status, x, y);
}

/**
 * Every drawn molecule of a verdict as one dot in a single path: a zero-length segment `M x y h0` that
 * a round line cap paints as a disc the size of a point. Positions are rounded to whole pixels and a
 * pixel already drawn is not drawn again: every drawn molecule is still represented (its dot is
 * painted, by it or by one at the same pixel), at about 10 bytes per distinct pixel, in input order.
 */
function dotsSvg(points: VerdictPoints, status: 'pass' | 'fail', x: Scale, y: Scale): string {
  const pixels = new Set<string>();
  for (let i = 0; i < points.mw.length; i++) pixels.add(`${Math.round(x(points.clogp[i] as number))} ${Math.round(y(points.mw[i] as number))}`);
  let d = '';
  for (const pixel of pixels) d += `M${pixel}h0`;
  const verdict = status === 'fail' ? 'failing' : 'passing';
  const drawn = points.mw.length === points.total ? '' : `, a sample of ${points.mw.length} drawn (every molecule is in the CSV)`;
  return `<path class="dots ${status}" d="${d}"><title>${points.total} ${verdict} molecules${drawn}, ${pixels.size} distinct positions (one dot per pixel; names in the tables and the CSV)</title></path>`;
}

function pointSvg(p: Point, x: Scale, y: Scale): string {
  const verdict = p.row.status === 'fail' ? `fails: ${p.row.violations.join(', ')}` : 'passes';
  const title = `${p.row.name} — MW ${p.mw}, cLogP ${p.clogp} (${verdict})`;
  return `<circle class="point ${p.row.status}" cx="${px(x(p.clogp))}" cy="${px(y(p.mw))}" r="4.5" data-inchikey="${escapeXml(p.row.inchikey ?? '')}"><title>${escapeXml(title)}</title></circle>`;
}

function legendSvg(left: number, top: number): string {
  return [
    `<g class="legend" transform="translate(${left} ${top})">`,
    '<rect class="legend-box" x="0" y="0" width="142" height="50" rx="4"/>',
    '<circle class="legend-mark pass" cx="14" cy="16" r="5"/><text x="26" y="20">passes (drug-like)</text>',
    '<circle class="legend-mark fail" cx="14" cy="36" r="5"/><text x="26" y="40">fails the rule</text>',
    '</g>',
  ].join('');
}
