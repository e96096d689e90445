import { describe, expect, it } from 'vitest';
import { CsvParser, CsvSyntaxError, formatCsv, parseCsv } from '../../src/steps/csv.js';

describe('CSV', () => {
  it('parses quoted fields with commas, quotes and line breaks, and records the line each record starts on', () => {
    const text = '\uFEFFname,smiles\r\n"Caffeine, anhydrous",Cn1cnc2\r\n\r\n"a ""quoted""\nname",CC\nlast,C';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['name', 'smiles'] },
      { line: 2, fields: ['Caffeine, anhydrous', 'Cn1cnc2'] },
      { line: 4, fields: ['a "quoted"\nname', 'CC'] },
      { line: 6, fields: ['last', 'C'] },
    ]);
  });

  it('reads the same records and errors when the text comes in pieces, wherever it is cut', () => {
    const texts = [
      '\uFEFFname,smiles\r\n"Caffeine, anhydrous",Cn1cnc2\r\n\r\n"a ""quoted""\nname",CC\nlast,C',
      'a,"b""",c\r\n"""",x\r\ny\r',
      'name,smiles\n"open,C\nx,y\n',
    ];
    const inPieces = (text: string, cuts: number[]): unknown => {
      const parser = new CsvParser();
      try {
        const records = [];
        let from = 0;
        for (const cut of [...cuts, text.length]) {
          records.push(...parser.push(text.slice(from, cut)));
          from = cut;
        }
        return [...records, ...parser.end()];
      } catch (error) {
        return error instanceof CsvSyntaxError ? { error: error.message, line: error.line } : error;
      }
    };
    for (const text of texts) {
      const whole = inPieces(text, []);
      expect(whole).toEqual(text.includes('open') ? { error: 'a quoted field opened on line 2 is never closed', line: 2 } : parseCsv(text));
      for (let i = 0; i <= text.length; i++) for (let j = i; j <= text.length; j++) expect(inPieces(text, [i, j])).toEqual(whole);
    }
  });

  it('refuses a quote left open rather than guess where the record ends', () => {
    expect(() => parseCsv('name,smiles\n"open,C\nx,y\n')).toThrow(CsvSyntaxError);
  });

  it('writes what it reads back', () => {
    const rows = [['line', 'name', 'mw'], [2, 'Caffeine, anhydrous', 194.19], [3, ' padded "name"', null]];
    const text = formatCsv(rows);
    expect(text).toBe('line,name,mw\n2,"Caffeine, anhydrous",194.19\n3," padded ""name""",\n');
    expect(parseCsv(text).map((r) => r.fields)).toEqual([['line', 'name', 'mw'], ['2', 'Caffeine, anhydrous', '194.19'], ['3', ' padded "name"', '']]);
  });

  it('writes a text cell a spreadsheet would run as a formula as quoted text behind a quote mark, and numbers as numbers', () => {
    const names = ['=HYPERLINK("http://x.test","a")', '+1+2', '-2+3', '@SUM(A1)', '\t=1+1', '\r=1+1', 'Aspirin', 'C=O'];
    const text = formatCsv([['name', 'clogp'], ...names.map((name) => [name, -0.5])]);
    expect(text.split('\n').slice(1, 5)).toEqual([
      `"'=HYPERLINK(""http://x.test"",""a"")",-0.5`,
      `"'+1+2",-0.5`,
      `"'-2+3",-0.5`,
      `"'@SUM(A1)",-0.5`,
    ]);
    const read = parseCsv(text).slice(1).map((r) => r.fields);
    expect(read.map(([name]) => name)).toEqual([...names.slice(0, 6).map((n) => `'${n}`), 'Aspirin', 'C=O']);
    expect(read.map(([, clogp]) => clogp)).toEqual(names.map(() => '-0.5'));
  });
});
