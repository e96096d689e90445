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
  const failed = rows.filter((r) => r.status === 'fail');
  const passed = rows.filter((r) => r.status === 'pass');
  const worstFirst = [...failed].sort((a, b) => b.violations.length - a.violations.length || a.line - b.line);
  return {
    failed: { rows: byLine(worstFirst.slice(0, bounds.failed)), total: failed.length },
    passed: { rows: passed.slice(0, bounds.passed), total: passed.length },
  };
}

function byLine(rows: ReportRow[]): ReportRow[] {
  return rows.sort((a, b) => a.line - b.line);
}
