import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { isAlias, isCollection, isNode, isPair, LineCounter, Parser, parseDocument, visit, type Alias, type CST, type Document } from 'yaml';
import { FlowFileError, type FlowFileIssue } from './flow-file-error.js';
import type { DocPath } from './issue-text.js';

/** A parsed flow file: its data, and where in the text each value sits. */
export interface FlowDocument {
  data: unknown;
  /** 1-based line and column of the value at `path`, or of its nearest existing parent. */
  locate(path: DocPath): { line: number; column: number } | undefined;
}

type CstToken = CST.Token;

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Reads and parses a YAML or JSON flow file. JSON is parsed by the YAML 1.2 parser too (JSON is a
 * subset of it), so both report syntax errors and value positions the same way.
 */
export async function readFlowDocument(absolutePath: string, shownAs: string): Promise<FlowDocument> {
  if (!EXTENSIONS.has(extname(absolutePath).toLowerCase()))
    throw new FlowFileError(shownAs, [
      { problem: 'unreadable', path: '', message: 'expected a flow file ending in .yaml, .yml or .json' },
    ]);
  let bytes: Buffer;
  try {
    bytes = await readFile(absolutePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, expected a file' : String(error);
    throw new FlowFileError(shownAs, [{ problem: 'unreadable', path: '', message }], { cause: error });
  }
  const fail = (issue: Omit<FlowFileIssue, 'path'>): never => {
    throw new FlowFileError(shownAs, [{ path: '', ...issue }]);
  };
  const text = decodeUtf8(bytes, fail);
  const tooDeep = findTooDeep(text);
  if (tooDeep !== undefined)
    fail({
      problem: 'too_complex',
      message: `nested more than ${MAX_DEPTH} levels deep (lists and mappings inside each other); a flow file needs far fewer`,
      ...tooDeep,
    });
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new FlowFileError(
      shownAs,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          problem: 'syntax' as const,
          path: '',
          message: `invalid ${extname(absolutePath) === '.json' ? 'JSON' : 'YAML'}: ${firstLine(e.message)}`,
          ...(pos ? { line: pos.line, column: pos.col } : {}),
        };
      }),
    );
  const locate = (path: DocPath): { line: number; column: number } | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return undefined;
  };
  const aliasBomb = findAliasExpansion(doc, MAX_ALIAS_EXPANSION);
  if (aliasBomb !== undefined) {
    const position = lineCounter.linePos(aliasBomb.range?.[0] ?? 0);
    fail({
      problem: 'too_complex',
      message: `alias *${aliasBomb.source} makes the aliases expand into more than ${MAX_ALIAS_EXPANSION} values (aliases inside anchored values multiply); write the values out or use fewer nested aliases`,
      line: position.line,
      column: position.col,
    });
  }
  // The expansion is bounded above: yaml's own alias limit (a product of counts) would only repeat it less precisely.
  return { data: doc.toJS({ maxAliasCount: -1 }), locate };
}

/** Deeper nesting than this is refused before the recursive parts of parsing could exhaust the stack. */
export const MAX_DEPTH = 100;
/** Values that aliases (`*name`) may add to a document, counting the values inside aliased collections. */
export const MAX_ALIAS_EXPANSION = 10_000;

/**
 * The text of a UTF-8 flow file. A UTF-16 file (byte order mark FF FE or FE FF) and bytes that are not
 * UTF-8 (Latin-1 `é`, a truncated sequence) are refused: decoding them would put U+FFFD in names and
 * params without a word.
 */
function decodeUtf8(bytes: Buffer, fail: (issue: Omit<FlowFileIssue, 'path'>) => never): string {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)))
    fail({
      problem: 'syntax',
      message: `the file is UTF-16 (${bytes[0] === 0xff ? 'little' : 'big'}-endian, byte order mark ${hex(bytes[0])} ${hex(bytes[1])}); flow files must be UTF-8: save it as UTF-8`,
      line: 1,
      column: 1,
    });
  const bad = invalidUtf8Offset(bytes);
  if (bad !== undefined) {
    const before = bytes.subarray(0, bad);
    const lineStart = before.lastIndexOf(0x0a) + 1;
    fail({
      problem: 'syntax',
      message: `not valid UTF-8: byte ${hex(bytes[bad] ?? 0)} at byte offset ${bad} (Latin-1 or another legacy encoding?); flow files must be UTF-8: save it as UTF-8`,
      line: before.filter((b) => b === 0x0a).length + 1,
      column: Buffer.from(before.subarray(lineStart)).toString('utf8').length + 1,
    });
  }
  return bytes.toString('utf8');
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence, if any. */
function invalidUtf8Offset(bytes: Uint8Array): number | undefined {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    // Lead byte: length of the sequence and the range of its second byte (no overlongs, surrogates or > U+10FFFF).
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0;
      if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90;
      if (b === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k];
      if (next === undefined || next < (k === 1 ? low : 0x80) || next > (k === 1 ? high : 0xbf)) return i;
    }
    i += length;
  }
  return undefined;
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).toUpperCase().padStart(2, '0');
}

/**
 * Where the text first nests deeper than `MAX_DEPTH`. The CST parser keeps its own stack (it survives any
 * depth); the composer that builds the document recurses, and a few hundred levels exhaust its stack.
 */
function findTooDeep(text: string): { line: number; column: number } | undefined {
  const lineCounter = new LineCounter();
  const pending: { token: CstToken; depth: number }[] = [];
  for (const document of new Parser(lineCounter.addNewLine).parse(text)) pending.push({ token: document, depth: 0 });
  for (let entry = pending.pop(); entry !== undefined; entry = pending.pop()) {
    const { token, depth } = entry;
    if (token.type === 'document') {
      if (token.value !== undefined) pending.push({ token: token.value, depth });
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    if (depth + 1 > MAX_DEPTH) {
      const position = lineCounter.linePos(token.offset);
      return { line: position.line, column: position.col };
    }
    for (const item of token.items as { key?: CstToken | null; value?: CstToken | null }[]) {
      if (item.key) pending.push({ token: item.key, depth: depth + 1 });
      if (item.value) pending.push({ token: item.value, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * The first alias at which the values added by aliases exceed `limit` (a "billion laughs" document:
 * anchors holding aliases of anchors, each level multiplying the size). Sizes are counted, never expanded.
 */
function findAliasExpansion(doc: Document, limit: number): Alias | undefined {
  const sizes = new Map<unknown, number>();
  const sizeOf = (node: unknown): number => {
    if (isAlias(node)) return sizeOf(node.resolve(doc));
    if (!isCollection(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    sizes.set(node, 1); // an alias of a collection inside itself counts once, as the reference it becomes
    let size = 1;
    for (const item of node.items) {
      size += isPair(item) ? sizeOf(item.key) + sizeOf(item.value) : sizeOf(item);
      if (size > limit) break; // enough to know it is too much, and no risk of overflowing a number
    }
    sizes.set(node, size);
    return size;
  };
  let added = 0;
  let found: Alias | undefined;
  visit(doc, {
    Alias(_, alias) {
      added += sizeOf(alias);
      if (added <= limit) return undefined;
      found = alias;
      return visit.BREAK;
    },
  });
  return found;
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? message;
}
