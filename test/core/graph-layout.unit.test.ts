import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainNeeds } from '../../src/core/step-graph.js';
import { DEFAULT_GRAPH_LAYOUT, layoutGraph, longestPathLayers, type GraphLayout, type LaidNode } from '../../src/core/graph-layout.js';

const diamond = [[], [0], [0], [1, 2]];
const fanOut8 = [[], ...Array.from({ length: 8 }, () => [0]), Array.from({ length: 8 }, (_, i) => i + 1)];

/** A random DAG: each step needs some of the steps before it (so, with a shuffle, any DAG). */
const dag = (max: number): fc.Arbitrary<number[][]> =>
  fc.integer({ min: 0, max }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, k) => k), { maxLength: Math.min(4, i) }))));

/** The same DAG with its steps listed in another order: needs renumbered. */
const shuffled = (needs: number[][], permutation: number[]): number[][] => {
  const newIndex = new Map(permutation.map((old, i) => [old, i]));
  return permutation.map((old) => (needs[old] ?? []).map((n) => newIndex.get(n) as number));
};

const overlap = (a: LaidNode, b: LaidNode): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Whether the segment from p to q passes through the inside of a box (touching its border is not). */
const crossesBox = (p: { x: number; y: number }, q: { x: number; y: number }, box: LaidNode): boolean => {
  for (let t = 0.02; t < 1; t += 0.02) {
    const x = p.x + (q.x - p.x) * t;
    const y = p.y + (q.y - p.y) * t;
    if (x > box.x + 0.5 && x < box.x + box.width - 0.5 && y > box.y + 0.5 && y < box.y + box.height - 0.5) return true;
  }
  return false;
};

/** What every drawing must be: arrows left to right from box to box, around every other box; no box over another; all inside. */
function checkDrawing(needs: readonly (readonly number[])[], layout: GraphLayout): void {
  expect(layout.nodes).toHaveLength(needs.length);
  expect(layout.edges).toHaveLength(needs.reduce((sum, list) => sum + new Set(list).size, 0));
  for (const edge of layout.edges) {
    const from = layout.nodes[edge.from] as LaidNode;
    const to = layout.nodes[edge.to] as LaidNode;
    expect(from.layer).toBeLessThan(to.layer);
    // From the right side of the box needed to the left side of the box that needs it.
    const first = edge.points[0] as { x: number; y: number };
    const last = edge.points[edge.points.length - 1] as { x: number; y: number };
    expect(first.x).toBe(from.x + from.width);
    expect(first.y).toBeGreaterThan(from.y);
    expect(first.y).toBeLessThan(from.y + from.height);
    expect(last.x).toBe(to.x);
    expect(last.y).toBeGreaterThan(to.y);
    expect(last.y).toBeLessThan(to.y + to.height);
    for (let i = 1; i < edge.points.length; i++) {
      const p = edge.points[i - 1] as { x: number; y: number };
      const q = edge.points[i] as { x: number; y: number };
      expect(q.x).toBeGreaterThanOrEqual(p.x);
      for (const box of layout.nodes) expect(crossesBox(p, q, box), `edge ${edge.from}→${edge.to} through step ${box.index}`).toBe(false);
    }
  }
  for (let a = 0; a < layout.nodes.length; a++)
    for (let b = a + 1; b < layout.nodes.length; b++) expect(overlap(layout.nodes[a] as LaidNode, layout.nodes[b] as LaidNode)).toBe(false);
  for (const node of layout.nodes) {
    expect(node.x).toBeGreaterThanOrEqual(0);
    expect(node.y).toBeGreaterThanOrEqual(0);
    expect(node.x + node.width).toBeLessThanOrEqual(layout.width);
    expect(node.y + node.height).toBeLessThanOrEqual(layout.height);
  }
}

describe('the layered drawing of a flow graph', () => {
  it('puts each step in the column of its longest path from a source', () => {
    expect(longestPathLayers(diamond)).toEqual([0, 1, 1, 2]);
    expect(longestPathLayers([[], [0], [1], [0, 2]])).toEqual([0, 1, 2, 3]);
    expect(longestPathLayers([[2], [], []])).toEqual([1, 0, 0]);
    expect(() => longestPathLayers([[1], [0]])).toThrow(RangeError);
    expect(() => longestPathLayers([[3]])).toThrow(RangeError);
  });

  it('draws a list as a straight line, left to right', () => {
    const layout = layoutGraph(chainNeeds(5));
    checkDrawing(chainNeeds(5), layout);
    expect(new Set(layout.nodes.map((n) => n.y)).size).toBe(1);
    expect(layout.nodes.map((n) => n.layer)).toEqual([0, 1, 2, 3, 4]);
    for (const edge of layout.edges) {
      expect(edge.points).toHaveLength(2);
      expect(edge.points[0]?.y).toBe(layout.nodes[0]!.y + DEFAULT_GRAPH_LAYOUT.nodeHeight / 2);
      expect(edge.points[1]?.y).toBe(edge.points[0]?.y);
    }
    const { nodeWidth, nodeHeight, layerGap, margin } = DEFAULT_GRAPH_LAYOUT;
    expect(layout.width).toBe(2 * margin + 5 * nodeWidth + 4 * layerGap);
    expect(layout.height).toBe(2 * margin + nodeHeight);
  });

  it('draws a diamond symmetric: the source and the join centred on the two branches', () => {
    const layout = layoutGraph(diamond);
    checkDrawing(diamond, layout);
    const [a, b, c, d] = layout.nodes as LaidNode[];
    expect([b?.slot, c?.slot]).toEqual([0, 1]);
    expect(a?.y).toBe(((b?.y ?? 0) + (c?.y ?? 0)) / 2);
    expect(d?.y).toBe(a?.y);
    // The two arrows into the join meet its side at two points, the upper branch's above.
    const into = layout.edges.filter((e) => e.to === 3).map((e) => e.points.at(-1)?.y ?? 0);
    expect(into[0]).toBeLessThan(into[1] ?? 0);
  });

  it('draws a fan-out of 8 as one column of 8 between its source and its join', () => {
    const layout = layoutGraph(fanOut8);
    checkDrawing(fanOut8, layout);
    expect(layout.layers).toBe(3);
    expect(layout.nodes.slice(1, 9).map((n) => n.slot)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('routes an arrow that skips columns through a slot of its own, around the steps of those columns', () => {
    // a → b → c → d, and a → d directly.
    const needs = [[], [0], [1], [2, 0]];
    const layout = layoutGraph(needs);
    checkDrawing(needs, layout);
    const long = layout.edges.find((e) => e.from === 0 && e.to === 3);
    expect(long?.points).toHaveLength(6);
  });

  it('orders a column to avoid crossings the flow order would make', () => {
    // Two chains written interleaved the wrong way: a1, b1 sources; b2 needs b1, a2 needs a1 (listed b2 first).
    const needs = [[], [], [1], [0]];
    const layout = layoutGraph(needs);
    checkDrawing(needs, layout);
    expect((layout.nodes[3] as LaidNode).slot).toBe(0);
    expect((layout.nodes[2] as LaidNode).slot).toBe(1);
  });

  it('draws 100 steps: a long list and a wide random graph', () => {
    checkDrawing(chainNeeds(100), layoutGraph(chainNeeds(100)));
    const wide = Array.from({ length: 100 }, (_, i) => (i < 10 ? [] : [i % 10, (i * 7) % i, Math.floor(i / 2)].filter((n, k, all) => all.indexOf(n) === k)));
    const started = performance.now();
    const layout = layoutGraph(wide);
    const took = performance.now() - started;
    checkDrawing(wide, layout);
    expect(took).toBeLessThan(2000);
  });

  it('draws an empty flow as an empty picture', () => {
    const layout = layoutGraph([]);
    expect(layout.nodes).toEqual([]);
    expect(layout.width).toBeGreaterThan(0);
  });

  it('property: every arrow goes from a lower column to a higher one, no boxes overlap, the same needs give the same drawing', () => {
    fc.assert(
      fc.property(dag(30), (needs) => {
        const layout = layoutGraph(needs);
        checkDrawing(needs, layout);
        expect(layoutGraph(needs.map((l) => [...l]))).toEqual(layout);
      }),
      { numRuns: 150 },
    );
  });

  it('property: listing the steps in another order keeps each step in its column', () => {
    fc.assert(
      fc.property(
        dag(15).chain((needs) => fc.tuple(fc.constant(needs), fc.shuffledSubarray(needs.map((_, i) => i), { minLength: needs.length }))),
        ([needs, permutation]) => {
          const moved = shuffled(needs, permutation);
          const before = layoutGraph(needs).nodes.map((n) => n.layer);
          const after = layoutGraph(moved).nodes.map((n) => n.layer);
          expect(permutation.map((old) => before[old])).toEqual(after);
        },
      ),
    );
  });
});
