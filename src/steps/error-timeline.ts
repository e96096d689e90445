import type { ErrorHistoryEntry } from '../core/definition.js';
import type { ErrorClass } from '../core/error-class.js';
import { escapeXml, linearScale, niceTicks, px } from './svg.js';

const WIDTH = 760;
const LANE = 44;
const MARGIN = { top: 28, right: 32, bottom: 60, left: 150 };
const CLASS_ORDER: readonly ErrorClass[] = ['Transient', 'Permanent', 'Validation', 'Runtime'];

/**
 * The flow's failed attempts as an inline SVG: one lane per step that failed, one `.error-marker` per
 * failed attempt at its time since the first failure, coloured by error class and labelled with its
 * attempt number. Times differ from run to run, which is why this lives in the HTML file only and never
 * in an artifact.
 */
export function errorTimelineSvg(history: readonly ErrorHistoryEntry[]): string {
  if (history.length === 0) return '<p class="no-errors">No failed attempts: every step succeeded on its first attempt.</p>';
  const times = history.map((e) => Date.parse(e.timestamp));
  const start = Math.min(...times);
  const offsets = times.map((t) => (Number.isFinite(t) ? t - start : 0));
  const steps = [...new Set(history.map((e) => e.stepId))];
  const height = MARGIN.top + steps.length * LANE + MARGIN.bottom;
  const ticks = niceTicks(0, Math.max(1, ...offsets), 6);
  const last = ticks[ticks.length - 1] ?? 1;
  const seconds = last >= 5000;
  const x = linearScale([0, last], [MARGIN.left, WIDTH - MARGIN.right]);
  const laneY = (stepId: string): number => MARGIN.top + steps.indexOf(stepId) * LANE + LANE / 2;
  const axisY = height - MARGIN.bottom + 8;

  const parts = [
    `<svg id="error-timeline" class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-labelledby="error-timeline-title">`,
    `<title id="error-timeline-title">${history.length} failed attempt(s) over time</title>`,
    ...steps.map((s) => `<line class="lane" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${laneY(s)}" y2="${laneY(s)}"/><text class="lane-label" x="${MARGIN.left - 12}" y="${laneY(s) + 4}" text-anchor="end">${escapeXml(s)}</text>`),
    `<line class="axis" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${axisY}" y2="${axisY}"/>`,
    ...ticks.map((t) => `<text class="tick" x="${px(x(t))}" y="${axisY + 18}" text-anchor="middle">+${seconds ? `${Number((t / 1000).toFixed(3))} s` : `${t} ms`}</text>`),
    `<text class="axis-label" x="${px((MARGIN.left + WIDTH - MARGIN.right) / 2)}" y="${axisY + 40}" text-anchor="middle">time since the first failure</text>`,
    ...history.map((e, i) => markerSvg(e, x(offsets[i] ?? 0), laneY(e.stepId))),
    '</svg>',
  ];
  return parts.join('\n');
}

function markerSvg(entry: ErrorHistoryEntry, cx: number, cy: number): string {
  const title = `${entry.stepId} attempt ${entry.attemptNumber}: ${entry.errorClass} — ${entry.message} (${entry.timestamp})`;
  return (
    `<g class="error-marker ${entry.errorClass.toLowerCase()}" data-step="${escapeXml(entry.stepId)}" data-attempt="${entry.attemptNumber}">` +
    `<circle cx="${px(cx)}" cy="${px(cy)}" r="8"/>` +
    `<text x="${px(cx)}" y="${px(cy - 13)}" text-anchor="middle">#${entry.attemptNumber}</text>` +
    `<title>${escapeXml(title)}</title></g>`
  );
}

/** The classes present, in a fixed order, for the legend under the picture. */
export function errorClassesIn(history: readonly ErrorHistoryEntry[]): ErrorClass[] {
  return CLASS_ORDER.filter((c) => history.some((e) => e.errorClass === c));
}
