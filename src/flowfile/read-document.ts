import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { FlowFileError } from './flow-file-error.js';
import type { DocPath } from './issue-text.js';

/** A parsed flow file: its data, and where in the text each value sits. */
export interface FlowDocument {
  data: unknown;
  /** 1-based line and column of the value at `path`, or of its nearest existing parent. */
  locate(path: DocPath): { line: number; column: number } | undefined;
}

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
  let text: string;
  try {
    text = await readFile(absolutePath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, expected a file' : String(error);
    throw new FlowFileError(shownAs, [{ problem: 'unreadable', path: '', message }], { cause: error });
  }
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
  return { data: doc.toJS({ maxAliasCount: 100 }), locate };
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? message;
}
