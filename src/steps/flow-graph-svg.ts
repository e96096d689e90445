import type { FlowStepEntry } from '../core/definition.js';
import type { StepStatus } from '../core/flow-state.js';
import { layoutGraph, type GraphLayout, type LaidNode, type Point } from '../core/graph-layout.js';
import { escapeXml, px } from './svg.js';

/** What the picture needs of a step: `ctx.flowSteps` and `status --json`'s steps both have it. */
export type FlowGraphStep = Pick<FlowStepEntry, 'stepId' | 'needs' | 'status' | 'attempts' | 'retryCount'> & { readonly cached?: boolean };

export interface FlowGraphSvgOptions {
  /** The `id` of the `<svg>` (and the prefix of the ids inside it): unique in the page that holds it. */
  readonly id?: string;
}

/** A status's word and colours. Colours are attributes, not CSS: the picture is the same inline, as an `<img>` and as a file. */
interface StatusLook {
  readonly word: string;
  readonly fill: string;
  readonly stroke: string;
  readonly text: string;
  readonly dashed: boolean;
}

export const STATUS_LOOKS: Readonly<Record<StepStatus, StatusLook>> = {
  Pending: { word: 'pending', fill: '#f1f3f5', stroke: '#adb5bd', text: '#495057', dashed: false },
  Running: { word: 'running', fill: '#d0ebff', stroke: '#1c7ed6', text: '#1864ab', dashed: false },
  FinishedOk: { word: 'finished', fill: '#d3f9d8', stroke: '#2b8a3e', text: '#2b8a3e', dashed: false },
  Failed: { word: 'failed', fill: '#ffe3e3', stroke: '#c92a2a', text: '#c92a2a', dashed: false },
  Skipped: { word: 'skipped', fill: '#ffffff', stroke: '#868e96', text: '#868e96', dashed: true },
};

/** A step id longer than this is cut on its box (its `<title>` has it whole). */
const MAX_LABEL = 20;
const FONT = 'system-ui, -apple-system, &quot;Segoe UI&quot;, Roboto, &quot;DejaVu Sans&quot;, sans-serif';

/**
 * A flow's steps as an SVG drawing: one box per step in the layered layout of its needs (`layoutGraph`),
 * filled by status, with its id, its status in words, its attempts and retries; an arrow from each need
 * to the step that needs it. Self-contained (no stylesheet, no script, no link outside), every text
 * escaped, and described for a screen reader by its `<title>` and `<desc>`.
 */
export function flowGraphSvg(steps: readonly FlowGraphStep[], options: FlowGraphSvgOptions = {}): string {
  const id = options.id ?? 'flow-graph';
  const indexOf = new Map(steps.map((s, i) => [s.stepId, i]));
  const needs = steps.map((s) => s.needs.flatMap((n) => (indexOf.has(n) ? [indexOf.get(n) as number] : [])));
  const layout = layoutGraph(needs);
  const title = graphTitle(steps);
  return [
    `<svg id="${escapeXml(id)}" class="flow-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${layout.width} ${layout.height}" width="${layout.width}" height="${layout.height}" role="img" aria-labelledby="${escapeXml(id)}-title ${escapeXml(id)}-desc" font-family="${FONT}" font-size="12">`,
    `<title id="${escapeXml(id)}-title">${escapeXml(title)}</title>`,
    `<desc id="${escapeXml(id)}-desc">${escapeXml(steps.map(stepSentence).join(' '))}</desc>`,
    `<defs><marker id="${escapeXml(id)}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#868e96"/></marker></defs>`,
    ...edgesSvg(layout, steps, id),
    ...layout.nodes.map((node) => nodeSvg(node, steps[node.index] as FlowGraphStep)),
    '</svg>',
  ].join('\n');
}

/** `7 steps: 5 finished, 1 running, 1 skipped`. */
function graphTitle(steps: readonly FlowGraphStep[]): string {
  const counts = (Object.keys(STATUS_LOOKS) as StepStatus[])
    .map((status) => ({ word: lookOf(status).word, count: steps.filter((s) => s.status === status).length }))
    .filter((c) => c.count > 0)
    .map((c) => `${c.count} ${c.word}`);
  return `The flow's ${steps.length} step(s) as a graph${counts.length === 0 ? '' : `: ${counts.join(', ')}`}`;
}

function stepSentence(step: FlowGraphStep): string {
  const needs = step.needs.length === 0 ? 'needs nothing' : `needs ${step.needs.join(', ')}`;
  return `${step.stepId}: ${statusWords(step)}, ${step.attempts} attempt(s), ${step.retryCount} retry(ies); ${needs}.`;
}

function statusWords(step: FlowGraphStep): string {
  return `${lookOf(step.status).word}${step.cached === true ? ' (cache hit)' : ''}`;
}

/** The look of a status; one not known (a newer log read by an older reader) is drawn as pending. */
function lookOf(status: string): StatusLook {
  return Object.hasOwn(STATUS_LOOKS, status) ? STATUS_LOOKS[status as StepStatus] : STATUS_LOOKS.Pending;
}

function nodeSvg(node: LaidNode, step: FlowGraphStep): string {
  const look = lookOf(step.status);
  const label = step.stepId.length > MAX_LABEL ? `${step.stepId.slice(0, MAX_LABEL - 1)}…` : step.stepId;
  const cx = node.x + node.width / 2;
  const text = (dy: number, content: string, extra = ''): string =>
    `<text x="${px(cx)}" y="${px(node.y + dy)}" text-anchor="middle" fill="${look.text}"${extra}>${escapeXml(content)}</text>`;
  return (
    `<g class="graph-node status-${escapeXml(step.status.toLowerCase())}" data-step="${escapeXml(step.stepId)}" data-status="${escapeXml(step.status)}" data-attempts="${step.attempts}" data-retries="${step.retryCount}">` +
    `<title>${escapeXml(stepSentence(step))}</title>` +
    `<rect x="${px(node.x)}" y="${px(node.y)}" width="${node.width}" height="${node.height}" rx="8" fill="${look.fill}" stroke="${look.stroke}" stroke-width="1.5"${look.dashed ? ' stroke-dasharray="5 3"' : ''}/>` +
    text(18, label, ' class="step-id" font-weight="600" font-size="13"') +
    text(35, statusWords(step), ' class="step-status"') +
    text(52, `attempts ${step.attempts} · retries ${step.retryCount}`, ' class="step-attempts" font-size="11"') +
    '</g>'
  );
}

function edgesSvg(layout: GraphLayout, steps: readonly FlowGraphStep[], id: string): string[] {
  return layout.edges.map((edge) => {
    const from = steps[edge.from] as FlowGraphStep;
    const to = steps[edge.to] as FlowGraphStep;
    // An arrow into a skipped step is dashed like the step: nothing flowed along it.
    const dashed = to.status === 'Skipped' ? ' stroke-dasharray="5 3"' : '';
    return `<path class="graph-edge" data-from="${escapeXml(from.stepId)}" data-to="${escapeXml(to.stepId)}" d="${pathData(edge.points)}" fill="none" stroke="#868e96" stroke-width="1.5"${dashed} marker-end="url(#${escapeXml(id)}-arrow)"/>`;
  });
}

function pathData(points: readonly Point[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${px(p.x)} ${px(p.y)}`).join(' ');
}
