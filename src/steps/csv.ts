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
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let quoteLine = 0;
  const endRecord = (): void => {
    fields.push(field);
    if (fields.length > 1 || fields[0] !== '') records.push({ line: recordLine, fields });
    fields = [];
    field = '';
  };
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text; // spreadsheets often write a BOM
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (quoted) {
      if (char === '"' && source[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') {
        quoted = false;
      } else {
        if (char === '\n') line++;
        field += char;
      }
    } else if (char === '"' && field === '') {
      quoted = true;
      quoteLine = line;
    } else if (char === ',') {
      fields.push(field);
      field = '';
    } else if (char === '\n' || (char === '\r' && source[i + 1] === '\n')) {
      if (char === '\r') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += char;
    }
  }
  if (quoted) throw new CsvSyntaxError(`a quoted field opened on line ${quoteLine} is never closed`, quoteLine);
  endRecord();
  return records;
}

export class CsvSyntaxError extends Error {
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
