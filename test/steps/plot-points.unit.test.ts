import { describe, expect, it } from 'vitest';
import { lineKey, MAX_POINT_CIRCLES, PlotPoints } from '../../src/steps/plot-points.js';
import type { PlotRow } from '../../src/steps/scatter-plot.js';

const row = (line: number, status: 'pass' | 'fail'): PlotRow => ({
  name: `M${line}`,
  status,
  inchikey: null,
  violations: status === 'fail' ? ['mw', 'clogp'] : [],
  descriptors: { mw: 100 + (line % 400), clogp: -3 + (line % 97) / 10 },
});

/** Feeds lines in the given order to a `PlotPoints` of `limit`. */
function plotOf(lines: readonly number[], limit: number, status: (line: number) => 'pass' | 'fail' = () => 'pass') {
  const points = new PlotPoints(limit);
  for (const line of lines) points.add(row(line, status(line)), line);
  return points.data();
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

describe('PlotPoints', () => {
  it('keeps every molecule up to its bound, in input order, named up to the circles bound', () => {
    const plot = plotOf(range(2, 500), 1000, (line) => (line % 5 === 0 ? 'fail' : 'pass'));
    expect(plot.pass.total + plot.fail.total).toBe(500);
    expect(plot.fail.mw).toEqual(range(2, 500).filter((l) => l % 5 === 0).map((l) => 100 + (l % 400)));
    expect(plot.fail.rows?.map((r) => r.name)).toEqual(range(2, 500).filter((l) => l % 5 === 0).map((l) => `M${l}`));
    const many = plotOf(range(2, MAX_POINT_CIRCLES + 1), 1_000_000);
    expect(many.pass.rows).toBeUndefined();
    expect(many.pass.mw).toHaveLength(MAX_POINT_CIRCLES + 1);
  });

  it('beyond its bound keeps exactly that many: the lines of smallest key, whatever order they come in', () => {
    const lines = range(2, 20_000);
    const limit = 1_500;
    const inOrder = plotOf(lines, limit);
    const expected = [...lines].sort((a, b) => lineKey(a) - lineKey(b)).slice(0, limit).sort((a, b) => a - b);
    expect(inOrder.pass.total).toBe(lines.length);
    expect(inOrder.pass.mw).toEqual(expected.map((l) => 100 + (l % 400)));
    expect(inOrder.pass.clogp).toEqual(expected.map((l) => -3 + (l % 97) / 10));
    // Reversed, or interleaved as shards would give them: the same sample, in line order.
    expect(plotOf([...lines].reverse(), limit)).toEqual(inOrder);
    expect(plotOf([...lines.filter((l) => l % 2 === 0), ...lines.filter((l) => l % 2 === 1)], limit)).toEqual(inOrder);
    // Spread over the file, not its head: about as many from each half.
    const firstHalf = expected.filter((l) => l < 10_002).length;
    expect(firstHalf).toBeGreaterThan(limit * 0.4);
    expect(firstHalf).toBeLessThan(limit * 0.6);
  });

  it('measures the axes over every molecule, sampled or not, with a loop (a million points, no spread)', () => {
    const points = new PlotPoints(10);
    for (let line = 2; line < 1_000_002; line++) points.add(row(line, 'pass'), line);
    points.add({ ...row(5, 'fail'), descriptors: { mw: 2345, clogp: -17 } }, 1_000_002);
    const plot = points.data();
    expect(plot.extent).toEqual({ minClogp: -17, maxClogp: -3 + 96 / 10, maxMw: 2345 });
    expect(plot.pass.mw).toHaveLength(10);
    expect(plot.pass.total).toBe(1_000_000);
  });

  it('gives distinct lines distinct keys', () => {
    const keys = new Set(range(1, 200_000).map(lineKey));
    expect(keys.size).toBe(200_000);
  });
});
