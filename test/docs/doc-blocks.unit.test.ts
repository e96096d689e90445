import { describe, expect, it } from 'vitest';
import { blockSkipReason, fencedBlocks, numbersVary, shellCommands, stepModuleFiles, transcriptMatches } from './doc-blocks.js';

const DOC = `# Title

<!-- not run "npm start": it runs in the checkout -->
\`\`\`sh
npm start                 # builds first
npx chemflow errors <flowId>   # exit 2: unknown id
  # a comment line
\`\`\`

<!-- numbers vary: counts -->

\`\`\`
$ chemflow cache stats
Cache hits     4 step(s)

$ chemflow cache prune --all   # every entry
\`\`\`

<!-- not run: a synopsis -->
\`\`\`sh
chemflow <command>
\`\`\`

\`\`\`js
// steps/a.mjs
export default { kind: 'source', run: () => ({ outputs: [] }) };
// steps/b.mjs — the second one
export default { kind: 'sink', run: () => ({ outputs: [] }) };
\`\`\`
`;

describe('the fenced blocks of a doc', () => {
  const [commands, transcript, synopsis, modules] = fencedBlocks('doc.md', DOC);

  it('reads each block with its line, language and the markers above it', () => {
    expect(commands).toMatchObject({ file: 'doc.md', line: 4, lang: 'sh', markers: ['not run "npm start": it runs in the checkout'] });
    expect(transcript?.markers).toEqual(['numbers vary: counts']);
    expect(numbersVary(transcript!)).toBe(true);
    expect(blockSkipReason(synopsis!)).toBe('a synopsis');
    expect(blockSkipReason(commands!)).toBeNull();
  });

  it('takes every line of a shell block as a command, with its expected exit code and line skips', () => {
    expect(shellCommands(commands!).map((c) => [c.line, c.exitCode, c.skipReason])).toEqual([
      [5, 0, 'it runs in the checkout'],
      [6, 2, null],
    ]);
  });

  it('takes the lines under a prompt as that command output, none when the doc shows none', () => {
    expect(shellCommands(transcript!).map((c) => [c.command, c.output])).toEqual([
      ['chemflow cache stats', ['Cache hits     4 step(s)']],
      ['chemflow cache prune --all   # every entry', []],
    ]);
  });

  it('splits a js block into the step modules it names', () => {
    expect(stepModuleFiles(modules!).map((m) => [m.path, m.text.split('\n').length])).toEqual([
      ['steps/a.mjs', 3],
      ['steps/b.mjs', 3],
    ]);
  });
});

describe('a transcript compared with what the command printed', () => {
  const run = 'Flow 34b48bd1-d062-4317-a177-7095cb3dab2b (lipinski, 5 steps)\n[1/5] read: started\n\nSTEP   STATUS\nread   FinishedOk  0e0f249629fee5b7\nErrors: 2\n';

  it('matches with "..." for any lines, … for any text, any UUID and hash, and spaces collapsed', () => {
    const shown = ['Flow 0e8596cd-2e78-4ec3-a9db-01497a93446e (lipinski, 5 steps)', '...', 'STEP STATUS', 'read FinishedOk 0d8a…', 'Errors: …'];
    expect(transcriptMatches(shown, run, false)).toBe(true);
  });

  it('fails on a different number, a missing or an extra line', () => {
    expect(transcriptMatches(['Flow … (lipinski, 3 steps)', '...'], run, false)).toBe(false);
    expect(transcriptMatches(['Flow …', '...', 'Errors: 2', 'Notes:'], run, false)).toBe(false);
    expect(transcriptMatches(['Flow …', 'STEP STATUS', '...'], run, false)).toBe(false);
  });

  it('takes any number for a number when the numbers vary', () => {
    expect(transcriptMatches(['Flow … (lipinski, 3 steps)', '...', 'Errors: 7'], run, true)).toBe(true);
    expect(transcriptMatches(['Flow … (lipinski, 3 steps)', '...', 'Warnings: 7'], run, true)).toBe(false);
  });
});
