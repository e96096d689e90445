// The error classes of chemflow's source, read as text: each is thrown somewhere and carries a code,
// so a caller tells errors apart by `code` (or one `instanceof`), never by excluding a subclass.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');

async function sources(): Promise<Map<string, string>> {
  const files = (await readdir(SRC, { recursive: true })).filter((f) => f.endsWith('.ts'));
  return new Map(await Promise.all(files.map(async (f) => [f, await readFile(join(SRC, f), 'utf8')] as const)));
}

interface ErrorClassSource {
  name: string;
  base: string;
  file: string;
  abstract: boolean;
  body: string;
}

/** Every `class …Error extends …` of the source, with the text of its body (up to the next top-level `}`). */
function errorClasses(files: ReadonlyMap<string, string>): ErrorClassSource[] {
  const found: ErrorClassSource[] = [];
  for (const [file, text] of files) {
    for (const m of text.matchAll(/^(?:export )?(abstract )?class (\w+Error) extends ([\w.]+)[^{]*\{([\s\S]*?)^\}/gm))
      found.push({ name: m[2] as string, base: m[3] as string, file, abstract: m[1] !== undefined, body: m[4] ?? '' });
  }
  return found;
}

describe('the error classes', async () => {
  const files = await sources();
  const classes = errorClasses(files);
  const byName = new Map(classes.map((c) => [c.name, c]));

  it('are found', () => {
    expect(classes.length).toBeGreaterThan(30);
  });

  it('each carry a code, their own or their base class\'s', () => {
    const declares = (c: ErrorClassSource): boolean => /\breadonly code\b|\bthis\.code\s*=|\bget code\(/.test(c.body);
    const hasCode = (c: ErrorClassSource | undefined): boolean => c !== undefined && (declares(c) || hasCode(byName.get(c.base)));
    expect(classes.filter((c) => !hasCode(c)).map((c) => `${c.file}: ${c.name}`)).toEqual([]);
  });

  it('each are thrown (constructed) somewhere, unless abstract', () => {
    const all = [...files.values()].join('\n');
    const unused = classes.filter((c) => !c.abstract && !new RegExp(`\\bnew ${c.name}\\(`).test(all));
    expect(unused.map((c) => `${c.file}: ${c.name}`)).toEqual([]);
  });

  it('have codes of their own: no two classes declare the same literal code', () => {
    const codes = classes.flatMap((c) => [...c.body.matchAll(/readonly code = '([A-Z_]+)'/g)].map((m) => m[1] as string));
    expect(codes.filter((code, i) => codes.indexOf(code) !== i)).toEqual([]);
  });

  it('are never told apart by excluding a subclass (`instanceof A && !(x instanceof B)`)', () => {
    const tricks = [...files].flatMap(([file, text]) => [...text.matchAll(/instanceof \w+\s*&&\s*!\(?\s*\w+ instanceof \w+/g)].map((m) => `${file}: ${m[0]}`));
    expect(tricks).toEqual([]);
  });
});
