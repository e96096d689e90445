import type { PlotRow } from './scatter-plot.js';

/**
 * A verdict with at most this many molecules is drawn one `circle.point` each, named on hover; beyond,
 * as one path of dots (see `scatterPlotSvg`), since 56,000 circles with titles weigh about 10 MB.
 */
export const MAX_POINT_CIRCLES = 2000;

/**
 * At most this many molecules of each verdict are drawn. Up to it, every one is; beyond it, a
 * deterministic sample of exactly this many (see `PlotPoints`). Drawn as dots deduplicated by pixel,
 * 100,000 molecules already cover the plot's occupied pixels nearly as densely as a million, and a
 * verdict's points then take a few megabytes whatever the size of the screen.
 */
export const MAX_PLOTTED_POINTS = 100_000;

/** The molecules of one verdict the plot draws. */
export interface VerdictPoints {
  /** Molecules of this verdict that have descriptors (a molecule without any is not plotted). */
  readonly total: number;
  /** MW of each drawn molecule, in input order: all of them, or the sample when `total` exceeds the bound. */
  readonly mw: readonly number[];
  /** cLogP of each drawn molecule, beside `mw`. */
  readonly clogp: readonly number[];
  /** The rows drawn, named, when `total` is at most `MAX_POINT_CIRCLES`; undefined beyond (drawn as dots). */
  readonly rows: readonly PlotRow[] | undefined;
}

/** What the plot draws: the points of each verdict and the extent of all molecules, sampled or not. */
export interface PlotData {
  readonly pass: VerdictPoints;
  readonly fail: VerdictPoints;
  /** Smallest and largest cLogP and largest MW over every plotted molecule; undefined when there is none. */
  readonly extent: { readonly minClogp: number; readonly maxClogp: number; readonly maxMw: number } | undefined;
}

interface Kept {
  key: number;
  line: number;
  mw: number;
  clogp: number;
}

/**
 * One verdict's points, fed one molecule at a time in any order, held in bounded memory. Up to `limit`
 * molecules it keeps them all. Beyond, it keeps the `limit` molecules of smallest key, the key being a
 * fixed mix of the input line (`lineKey`, a bijection, so no two lines tie): a sample spread evenly over
 * the file (neither its first rows nor its last), the same on every run and for any chunking or
 * sharding of the inputs, since it depends on the lines only. Candidates are cut back to the `limit`
 * smallest whenever they reach twice it, and a molecule whose key is above the cut-off is not kept.
 */
class VerdictSampler {
  private kept: Kept[] = [];
  private rows: PlotRow[] | undefined = [];
  private total = 0;
  /** After a cut, only a key below this can be among the `limit` smallest. */
  private cutoff = Infinity;

  constructor(private readonly limit: number) {}

  add(row: PlotRow, line: number, mw: number, clogp: number): void {
    this.total++;
    if (this.rows !== undefined) {
      if (this.total <= MAX_POINT_CIRCLES) this.rows.push(row);
      else this.rows = undefined;
    }
    const key = lineKey(line);
    if (key >= this.cutoff) return;
    this.kept.push({ key, line, mw, clogp });
    if (this.kept.length >= 2 * Math.max(this.limit, 1)) this.cut();
  }

  points(): VerdictPoints {
    if (this.kept.length > this.limit) this.cut();
    const drawn = [...this.kept].sort((a, b) => a.line - b.line);
    return { total: this.total, mw: drawn.map((p) => p.mw), clogp: drawn.map((p) => p.clogp), rows: this.rows?.slice() };
  }

  private cut(): void {
    this.kept.sort((a, b) => a.key - b.key || a.line - b.line);
    this.kept.length = Math.min(this.kept.length, this.limit);
    this.cutoff = this.kept[this.kept.length - 1]?.key ?? -Infinity;
  }
}

/**
 * The plot's points gathered while the report's rows stream by: the extent of every molecule (a loop,
 * never a spread over the rows) and each verdict's drawn points (`VerdictSampler`), in memory bounded by
 * `limit` whatever the number of rows.
 */
export class PlotPoints {
  private readonly pass: VerdictSampler;
  private readonly fail: VerdictSampler;
  private minClogp = Infinity;
  private maxClogp = -Infinity;
  private maxMw = -Infinity;
  private count = 0;

  constructor(limit: number = MAX_PLOTTED_POINTS) {
    this.pass = new VerdictSampler(limit);
    this.fail = new VerdictSampler(limit);
  }

  /** A molecule's row, from input line `line`; one without descriptors is not plotted. */
  add(row: PlotRow, line: number): void {
    if (row.descriptors === undefined) return;
    const { mw, clogp } = row.descriptors;
    this.count++;
    if (clogp < this.minClogp) this.minClogp = clogp;
    if (clogp > this.maxClogp) this.maxClogp = clogp;
    if (mw > this.maxMw) this.maxMw = mw;
    (row.status === 'fail' ? this.fail : this.pass).add(row, line, mw, clogp);
  }

  data(): PlotData {
    const extent = this.count === 0 ? undefined : { minClogp: this.minClogp, maxClogp: this.maxClogp, maxMw: this.maxMw };
    return { pass: this.pass.points(), fail: this.fail.points(), extent };
  }
}

/**
 * The sampling key of an input line: MurmurHash3's 32-bit finaliser, a bijection on 32-bit integers,
 * so distinct lines (below 2^32) never share a key, and nearby lines get unrelated ones.
 */
export function lineKey(line: number): number {
  let h = line >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
