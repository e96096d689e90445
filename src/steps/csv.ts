/** One CSV record and the line of the file it starts on (1-based), to point users at their data. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Parses CSV as RFC 4180 writes it: comma-separated fields, double-quoted fields that may hold commas,
 * quotes (`""`) and line breaks, LF or CRLF line ends. Blank lines are skipped. Throws on a quote left
 * open, since guessing where a record ends would silently shift every later row.
 */
export function parseCsv(text: string): CsvRecord[] {
  const parser = new CsvParser();
  return [...parser.push(text), ...parser.end()];
}

/**
 * The records of a CSV file read as a stream, a piece of text at a time (see `parseCsv` for the syntax).
 * `from` reads a part of a file that starts at a record boundary: its first line's number, and that a
 * byte order mark there is data (only a file's first character may be one).
 */
export async function* csvRecords(text: AsyncIterable<string>, from?: CsvStart): AsyncGenerator<CsvRecord> {
  const parser = new CsvParser(from);
  for await (const piece of text) yield* parser.push(piece);
  yield* parser.end();
}

/**
 * `parseCsv` fed a piece at a time: `push` returns the records completed so far, `end` the last one.
 * A character whose meaning depends on the next (a quote inside a quoted field, a carriage return) is
 * kept back until that next character arrives.
 */
/** Where a parse starts in its file: at the first line (the default), or at a record boundary further on. */
export interface CsvStart {
  /** Number of the line the text starts on; 1 for a file's beginning. */
  readonly line: number;
}

export class CsvParser {
  private fields: string[] = [];
  private field = '';
  private quoted = false;
  private line: number;
  private recordLine: number;
  private quoteLine = 0;
  private started: boolean;
  private rest = '';

  constructor(from?: CsvStart) {
    this.line = from?.line ?? 1;
    this.recordLine = this.line;
    // Within a file, a U+FEFF is data; only at its start is it a byte order mark.
    this.started = from !== undefined && from.line !== 1;
  }

  push(text: string): CsvRecord[] {
    let source = this.rest + text;
    this.rest = '';
    if (!this.started && source.length > 0) {
      this.started = true;
      if (source.startsWith('\uFEFF')) source = source.slice(1); // spreadsheets often write a BOM
    }
    return this.scan(source, false);
  }

  end(): CsvRecord[] {
    const records = this.scan(this.rest, true);
    this.rest = '';
    if (this.quoted) throw new CsvSyntaxError(`a quoted field opened on line ${this.quoteLine} is never closed`, this.quoteLine);
    this.endRecord(records);
    return records;
  }

  private scan(source: string, final: boolean): CsvRecord[] {
    const records: CsvRecord[] = [];
    for (let i = 0; i < source.length; i++) {
      const char = source[i];
      if (!final && i + 1 === source.length && (char === '\r' || (char === '"' && this.quoted))) {
        this.rest = char;
        break;
      }
      if (this.quoted) {
        if (char === '"' && source[i + 1] === '"') {
          this.field += '"';
          i++;
        } else if (char === '"') {
          this.quoted = false;
        } else {
          if (char === '\n') this.line++;
          this.field += char;
        }
      } else if (char === '"' && this.field === '') {
        this.quoted = true;
        this.quoteLine = this.line;
      } else if (char === ',') {
        this.fields.push(this.field);
        this.field = '';
      } else if (char === '\n' || (char === '\r' && source[i + 1] === '\n')) {
        if (char === '\r') i++;
        this.endRecord(records);
        this.line++;
        this.recordLine = this.line;
      } else {
        this.field += char;
      }
    }
    return records;
  }

  private endRecord(records: CsvRecord[]): void {
    this.fields.push(this.field);
    if (this.fields.length > 1 || this.fields[0] !== '') records.push({ line: this.recordLine, fields: this.fields });
    this.fields = [];
    this.field = '';
  }
}

/** A CSV text that cannot be parsed (a quoted field never closed), at `line`. */
export class CsvSyntaxError extends Error {
  readonly code = 'CSV_SYNTAX';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'CsvSyntaxError';
  }
}

/**
 * Writes rows as CSV (LF line ends), quoting only the fields that need it. A text cell a spreadsheet
 * would run as a formula is neutralised (see `formulaSafe`); numbers are written as numbers, so a
 * cLogP of -0.5 stays a number.
 */
export function formatCsv(rows: readonly (readonly (string | number | null)[])[]): string {
  return rows.map((row) => row.map(formatField).join(',')).join('\n') + '\n';
}

function formatField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = formulaSafe(value);
  return /[",\r\n]/.test(text) || text.trim() !== text || text !== value ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` (and, after
 * they trim it, with a tab or carriage return) as a formula: a molecule named `=HYPERLINK(...)` would
 * run on the reader's machine. OWASP's rule: prefix such a cell with `'`, which spreadsheets show as
 * text, and quote the field.
 */
function formulaSafe(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}
