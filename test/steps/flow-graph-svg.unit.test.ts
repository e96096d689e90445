import { describe, expect, it } from 'vitest';
import { flowGraphSvg, STATUS_LOOKS, type FlowGraphStep } from '../../src/steps/flow-graph-svg.js';

const step = (stepId: string, needs: string[], status: FlowGraphStep['status'], attempts = 1, retryCount = 0): FlowGraphStep => ({ stepId, needs, status, attempts, retryCount });

const diamond: FlowGraphStep[] = [
  step('a', [], 'FinishedOk'),
  step('b', ['a'], 'Failed', 3, 2),
  step('c', ['a'], 'Running'),
  step('d', ['b', 'c'], 'Pending', 0),
  step('e', ['a'], 'Skipped', 0),
];

/** The `<g class="graph-node …">` of a step. */
const nodeOf = (svg: string, id: string): string => {
  const match = new RegExp(`<g class="graph-node[^"]*" data-step="${id}"[^>]*>.*?</g>`).exec(svg);
  if (match === null) throw new Error(`no node ${id}`);
  return match[0];
};

describe('the SVG picture of a flow graph', () => {
  it('draws one box per step, filled by status, with its status, attempts and retries written on it', () => {
    const svg = flowGraphSvg(diamond);
    expect(svg.match(/<g class="graph-node /g)).toHaveLength(5);
    for (const s of diamond) {
      const node = nodeOf(svg, s.stepId);
      const look = STATUS_LOOKS[s.status];
      expect(node).toContain(`data-status="${s.status}"`);
      expect(node).toContain(`fill="${look.fill}" stroke="${look.stroke}"`);
      expect(node).toContain(`>${look.word}</text>`);
      expect(node).toContain(`>attempts ${s.attempts} · retries ${s.retryCount}</text>`);
    }
    expect(nodeOf(svg, 'e')).toContain('stroke-dasharray');
    expect(new Set(Object.values(STATUS_LOOKS).map((l) => l.fill)).size).toBe(5);
  });

  it('draws an arrow for every need, from the step needed to the step that needs it, dashed into a skipped step', () => {
    const svg = flowGraphSvg(diamond);
    const edges = [...svg.matchAll(/<path class="graph-edge" data-from="([^"]+)" data-to="([^"]+)"[^>]*>/g)];
    expect(edges.map((m) => `${m[1]}→${m[2]}`)).toEqual(['a→b', 'a→c', 'b→d', 'c→d', 'a→e']);
    expect(edges.every((m) => m[0].includes('marker-end="url(#flow-graph-arrow)"'))).toBe(true);
    expect(edges.filter((m) => m[0].includes('stroke-dasharray')).map((m) => m[2])).toEqual(['e']);
  });

  it('is described for a screen reader: a title counting statuses and a description of every step', () => {
    const svg = flowGraphSvg(diamond, { id: 'g1' });
    expect(svg).toMatch(/^<svg id="g1" class="flow-graph" [^>]*role="img" aria-labelledby="g1-title g1-desc"/);
    expect(svg).toContain(`<title id="g1-title">The flow&#39;s 5 step(s) as a graph: 1 pending, 1 running, 1 finished, 1 failed, 1 skipped</title>`);
    expect(svg).toContain('b: failed, 3 attempt(s), 2 retry(ies); needs a.');
    expect(svg).toContain('d: pending, 0 attempt(s), 0 retry(ies); needs b, c.');
    expect(svg).toContain('marker id="g1-arrow"');
  });

  it('escapes every text: a step id is never markup, and a long one is cut on its box but whole in its title', () => {
    const hostile = '<script>alert("x")</script>&\'';
    const long = 'a-very-long-step-identifier-indeed';
    const svg = flowGraphSvg([step(hostile, [], 'FinishedOk'), step(long, [hostile], 'Pending', 0)]);
    expect(svg).not.toContain('<script');
    expect(svg).not.toContain('"x"');
    expect(svg).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;&#39;');
    expect(svg).toContain('>a-very-long-step-id…</text>');
    expect(svg).toContain(`${long}: pending`);
  });

  it('says when a step was a cache hit, and draws a status it does not know as pending', () => {
    const svg = flowGraphSvg([{ ...step('a', [], 'FinishedOk'), cached: true }, step('b', ['a'], 'Paused' as FlowGraphStep['status'])]);
    expect(nodeOf(svg, 'a')).toContain('>finished (cache hit)</text>');
    expect(nodeOf(svg, 'b')).toContain(`fill="${STATUS_LOOKS.Pending.fill}"`);
  });

  it('gives the same text for the same state', () => {
    expect(flowGraphSvg(diamond)).toBe(flowGraphSvg(diamond.map((s) => ({ ...s, needs: [...s.needs] }))));
  });
});
