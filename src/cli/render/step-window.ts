/** The steps a live view shows when the terminal is too short for all of them. */
export interface StepWindow {
  /** First step shown (index). */
  start: number;
  /** One past the last step shown. */
  end: number;
  /** Whether a summary line of the hidden steps follows. */
  summary: boolean;
}

/**
 * Fits `total` step lines into `height` terminal lines, keeping `focus` (the step being worked on)
 * in view with the step before it for context. A redraw moves the cursor up over what it drew last, so
 * a frame taller than the terminal would leave its top in the scrollback and smear every redraw:
 * one line stays free for the cursor, and the hidden steps are summed up on one line.
 */
export function stepWindow(total: number, focus: number, height: number | undefined): StepWindow {
  const room = height === undefined || height <= 0 ? Infinity : Math.max(1, height - 1);
  if (total <= room) return { start: 0, end: total, summary: false };
  const shown = room >= 2 ? room - 1 : room;
  const context = shown >= 2 ? 1 : 0;
  const start = Math.min(Math.max(0, focus - context), total - shown);
  return { start, end: start + shown, summary: room >= 2 };
}
