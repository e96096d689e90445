import { printable, Rendered } from './printable.js';

/** A table cell: text from anywhere (escaped, see `printable`), or text the CLI rendered and styled itself. */
export type Cell = string | Rendered;

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = (cells: readonly Cell[]): string[] => cells.map((cell) => (cell instanceof Rendered ? cell.text : printable(cell)));
  const lines = [headers.map(printable), ...rows.map(text)];
  const widths = headers.map((_, i) => Math.max(...lines.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  return lines.map(line).join('\n') + '\n';
}

/** Length without ANSI escapes, so styled cells still line up. */
export function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/** One line of at most `max` characters, its control characters escaped (`printable`). */
export function oneLine(text: string, max = 120): string {
  const flat = printable(text.replace(/\s+/g, ' ').trim());
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
