import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { cliShape, shownCommandProblems, type ShownContext } from './shown-commands.js';

const program = new Command('chemflow').option('--db <location>');
program.command('gc').option('--dry-run');
program.command('queue').command('rebuild').option('--json');

const context: ShownContext = {
  cli: cliShape(program),
  scripts: new Set(['build', 'start']),
  exists: (path) => path === 'examples/make.ts' || path === './bin/chemflow.js',
};

describe('a command a doc shows without running it', () => {
  it('is well-formed when its commands, options, scripts and files exist', () => {
    expect(shownCommandProblems('chemflow --db memory gc --dry-run   # what would go', context)).toEqual([]);
    expect(shownCommandProblems('npx chemflow queue rebuild --json', context)).toEqual([]);
    expect(shownCommandProblems('chemflow [--db <location>] <command> [arguments]', context)).toEqual([]);
    expect(shownCommandProblems('npm run build && nice node ./bin/chemflow.js gc &', context)).toEqual([]);
    expect(shownCommandProblems('npx tsx examples/make.ts --check; npm start', context)).toEqual([]);
    expect(shownCommandProblems('sudo apt-get install openbabel', context)).toEqual([]);
  });

  it('names what does not exist', () => {
    expect(shownCommandProblems('chemflow collect', context)).toEqual(['chemflow has no command "collect"']);
    expect(shownCommandProblems('chemflow gc --dryrun', context)).toEqual(['chemflow gc has no option --dryrun']);
    expect(shownCommandProblems('chemflow [--database <url>] <command>', context)).toEqual(['chemflow has no option --database']);
    expect(shownCommandProblems('npm run bundle', context)).toEqual(['package.json has no script "bundle"']);
    expect(shownCommandProblems('npx tsx examples/gone.ts', context)).toEqual(['npx runs examples/gone.ts, which does not exist']);
  });
});
