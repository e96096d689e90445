import type { OutStream } from '../io.js';

/**
 * Characters that steer a terminal rather than print: C0 controls (ESC starts a CSI/OSC sequence that
 * can clear the screen, set the window title or plant a link; CR and LF fake lines), DEL, C1 controls
 * (U+009B is a one-character CSI on some terminals), the line and paragraph separators, and the
 * bidirectional controls that reorder what is shown (U+202E makes `exe.txt` read `txt.exe`).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from outside the CLI (flow names, error messages and codes, reasons, notes, ids typed by a user)
 * as it may be shown on a terminal: every control character is written visibly as an escape (`\x1b`,
 * `\n`, `\u202e`) instead of acting on the terminal. Human-readable output passes every such value
 * through this before it is laid out; `--json` output is never escaped here (JSON has its own escaping,
 * and scripts get the exact strings).
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => SHORT[c] ?? escapeCode(c.charCodeAt(0)));
}

function escapeCode(code: number): string {
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Text the CLI rendered itself, its own styling escapes included: laid out as is, never escaped again. */
export class Rendered {
  constructor(readonly text: string) {}
}

/** Writes one line of human-readable output (text from anywhere in it escaped, see `printable`) and its newline. */
export function writeLine(stream: OutStream, line: string): void {
  stream.write(`${printable(line)}\n`);
}
