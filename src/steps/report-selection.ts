import type { ReportRow } from './report-table.js';

/** How many molecules of each verdict the HTML page shows in its tables, with their depictions. */
export interface ShownBounds {
  failed: number;
  passed: number;
}

/** The rows of one verdict that the page shows, out of how many there are. */
export interface ShownRows {
  rows: readonly ReportRow[];
  total: number;
}

export interface ReportSelection {
  failed: ShownRows;
  passed: ShownRows;
}

/**
 * The molecules the page shows, a deterministic function of the rows and the bounds (the CSV keeps
 * them all):
 * - failing: the most violations first, then input-file order, at most `bounds.failed`; a reader of a
 *   big screen wants the worst offenders, and the line number breaks ties the same way every run;
 * - passing: input-file order, at most `bounds.passed`.
 * Each table is then shown in input-file order, so a small screen reads as its file does.
 */
export function selectShown(rows: readonly ReportRow[], bounds: ShownBounds): ReportSelection {
  const selector = new ShownSelector(bounds);
  for (const row of rows) selector.add(row);
  return selector.selection();
}

/**
 * `selectShown` fed one row at a time, in the rows' order, holding at most about twice the bounds:
 * the failing candidates are cut back to the bound, worst first, whenever they reach twice it. The sort
 * is stable and its order total on (violations, line) for distinct lines, so cutting early keeps what
 * sorting all of them once would.
 */
export class ShownSelector {
  private failed: ReportRow[] = [];
  private readonly passed: ReportRow[] = [];
  private failedTotal = 0;
  private passedTotal = 0;

  constructor(private readonly bounds: ShownBounds) {}

  add(row: ReportRow): void {
    if (row.status === 'fail') {
      this.failedTotal++;
      this.failed.push(row);
      if (this.failed.length >= 2 * Math.max(this.bounds.failed, 1)) this.failed = worstFirst(this.failed).slice(0, this.bounds.failed);
    } else if (row.status === 'pass') {
      this.passedTotal++;
      if (this.passed.length < this.bounds.passed) this.passed.push(row);
    }
  }

  selection(): ReportSelection {
    return {
      failed: { rows: byLine(worstFirst(this.failed).slice(0, this.bounds.failed)), total: this.failedTotal },
      passed: { rows: this.passed.slice(), total: this.passedTotal },
    };
  }
}

function worstFirst(rows: readonly ReportRow[]): ReportRow[] {
  return [...rows].sort((a, b) => b.violations.length - a.violations.length || a.line - b.line);
}

function byLine(rows: ReportRow[]): ReportRow[] {
  return rows.sort((a, b) => a.line - b.line);
}
