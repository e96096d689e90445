import { createReadStream } from 'node:fs';

/** A part of a CSV file made of whole records: bytes `[start, end)` and the number of the line at `start`. */
export interface CsvPart {
  readonly start: number;
  readonly end: number;
  readonly line: number;
}

/**
 * Part `index` of `count` of a file of `size` bytes, before alignment: an even split of its bytes,
 * `[⌊index·size/count⌋, ⌊(index+1)·size/count⌋)`. Depends on the three numbers only, so every process
 * that runs a part finds the same one.
 */
export function evenByteRange(size: number, index: number, count: number): [number, number] {
  return [Math.floor((index * size) / count), Math.floor(((index + 1) * size) / count)];
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * Finds where records begin in CSV bytes, fed in pieces from the file's start, with exactly the rules
 * of `CsvParser` (src/steps/csv.ts): a quote opens a quoted field only at the field's start, `""` in a
 * quoted field is a quote, a line break in a quoted field is data, and a record ends at a line feed
 * outside quotes (`\r\n` included: the `\r` before it changes nothing). A record boundary is offset 0
 * or the offset after such a line feed. Line numbers count every line feed, quoted or not, as the
 * parser's do. Only the bytes `"`, `,` and `\n` matter, and UTF-8 never uses them inside a character,
 * so bytes are scanned without decoding.
 */
export class CsvBoundaryScanner {
  private quoted = false;
  private fieldEmpty = true;
  /** A quote inside a quoted field was the last byte of a piece: the next byte says what it was. */
  private quotePending = false;
  private offset = 0;
  private lineFeeds = 0;

  /**
   * Scans `bytes` (the file's bytes from the current offset on) and returns the first record boundary
   * at or after `target` found in them, with its line number; undefined when there is none in them.
   * A boundary found is consumed: the next call goes on after it.
   */
  scan(bytes: Uint8Array, target: number): { at: number; line: number } | undefined {
    let i = 0;
    if (this.offset === 0 && BOM.every((b, k) => bytes[k] === b)) i = BOM.length; // the parser drops it: the field is still empty
    if (this.quotePending) {
      this.quotePending = false;
      if (bytes[0] === QUOTE) {
        this.fieldEmpty = false; // `""`: a quote in the field
        i = 1;
      } else this.quoted = false; // the quote closed the field; the byte is read outside quotes
    }
    while (i < bytes.length) {
      // Only quotes change the state between line feeds: jump to the next one, counting line feeds.
      const quote = bytes.indexOf(QUOTE, i);
      const stop = quote === -1 ? bytes.length : quote;
      for (let n = bytes.indexOf(NEWLINE, i); n !== -1 && n < stop; n = bytes.indexOf(NEWLINE, n + 1)) {
        this.lineFeeds++;
        if (this.quoted) continue; // a line break inside a quoted field is data
        const at = this.offset + n + 1;
        if (at >= target) {
          this.fieldEmpty = true;
          this.offset = at;
          this.rest = bytes.subarray(n + 1);
          return { at, line: this.lineFeeds + 1 };
        }
      }
      // The field is empty at the quote when nothing but a separator came since the last quote.
      if (stop > i) this.fieldEmpty = !this.quoted && (bytes[stop - 1] === COMMA || bytes[stop - 1] === NEWLINE);
      if (quote === -1) break;
      if (!this.quoted) {
        if (this.fieldEmpty) this.quoted = true;
        i = quote + 1;
        continue;
      }
      if (quote + 1 === bytes.length) {
        this.quotePending = true;
        i = bytes.length;
      } else if (bytes[quote + 1] === QUOTE) {
        this.fieldEmpty = false;
        i = quote + 2;
      } else {
        this.quoted = false;
        i = quote + 1;
      }
    }
    this.offset += bytes.length;
    this.rest = new Uint8Array(0);
    return undefined;
  }

  /** What was left of the last piece after the boundary `scan` returned: scan it next. */
  rest: Uint8Array = new Uint8Array(0);

  /** Number of the line the scan has reached. */
  lineCount(): number {
    return this.lineFeeds + 1;
  }
}

/**
 * Part `index` of `count` of the CSV file at `path` (`size` bytes), aligned to whole records: it starts
 * at the first record boundary at or after its even byte range's start and ends at the first one at or
 * after its end (the file's end when there is none), so the parts cover every record once, in order,
 * whatever the split. The file is scanned from its start to the part's end: only the bytes, no parse.
 */
export async function csvPart(path: string, size: number, index: number, count: number): Promise<CsvPart> {
  const [from, to] = evenByteRange(size, index, count);
  const scanner = new CsvBoundaryScanner();
  let start: { at: number; line: number } | undefined = from === 0 ? { at: 0, line: 1 } : undefined;
  // Offset 0 is a boundary the scan never reports (no line feed precedes it).
  let end: number | undefined = to >= size ? size : to === 0 ? 0 : undefined;
  const stream = createReadStream(path, { highWaterMark: 1 << 20, end: Math.max(0, size - 1) });
  try {
    for await (const piece of stream) {
      let bytes: Uint8Array = piece as Buffer;
      while (bytes.length > 0 && (start === undefined || end === undefined)) {
        const found = scanner.scan(bytes, start === undefined ? from : to);
        if (found === undefined) break;
        if (start === undefined) start = found;
        else end = found.at;
        if (start !== undefined && end === undefined && start.at >= to) end = start.at;
        bytes = scanner.rest;
      }
      if (start !== undefined && end !== undefined) break;
    }
  } finally {
    stream.destroy();
  }
  start ??= { at: size, line: scanner.lineCount() };
  return { start: start.at, end: Math.max(start.at, end ?? size), line: start.line };
}
