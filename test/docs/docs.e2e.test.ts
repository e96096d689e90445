// Every command and example of the documentation, run as printed: the fenced shell commands of
// README.md, docs/*.md and examples/*/README.md against the built CLI in a workspace of copies (one
// embedded database for all, PostgreSQL in a schema of this file's own), every flow file they show
// loaded by the flow file loader, and the README's code sample run as a user's project would.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { FlowFileError, loadFlowFile } from '../../src/flowfile/index.js';
import { resolveStepModule } from '../../src/flowfile/step-module.js';
import { BUILTIN_STEPS } from '../../src/steps/builtin.js';
import { buildProgram } from '../../src/cli/program.js';
import { createTestSchema, pgAvailable, pgSkipReason, type TestSchema } from '../helpers/pg.js';
import { E2E_TIMEOUT_MS, ensureBuilt, ROOT, waitUntil, workspace, type Workspace } from '../cli/support/cli.js';
import {
  blockSkipReason,
  fencedBlocks,
  isShellBlock,
  numbersVary,
  shellCommands,
  stepModuleFiles,
  transcriptMatches,
  type DocCommand,
  type FencedBlock,
} from './doc-blocks.js';
import { cliShape, shownCommandProblems, type ShownContext } from './shown-commands.js';

const DOC_FILES = [
  'README.md',
  ...(await readdir(join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`),
  ...(await readdir(join(ROOT, 'docs', 'recipes'))).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/recipes/${f}`),
  ...(await readdir(join(ROOT, 'examples'), { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => `examples/${e.name}/README.md`)
    .sort(),
];
const BLOCKS: FencedBlock[] = (await Promise.all(DOC_FILES.map(async (f) => fencedBlocks(f, await readFile(join(ROOT, f), 'utf8'))))).flat();

/** Files a reader of a clone has no `chemflow` on their PATH in: there it is `npx chemflow` (or `node ./bin/chemflow.js`). */
const CLONE_DOCS = (file: string): boolean => file === 'README.md' || file.startsWith('examples/');

/**
 * What the docs' commands use but do not print: the gated flow of cli.md's "A session" (its step
 * modules are the workspace's, test/cli/support/cli.ts), cache.md's docking step and graphs.md's comparison.
 */
const STAND_INS: Record<string, string> = {
  'flow.yaml': `name: gated
steps:
  - { id: seed, uses: ./steps/seed.mjs, params: { n: 1 } }
  - { id: gate, uses: ./steps/gate.mjs }
`,
  'steps/dock.mjs': `const dock = { kind: 'transform', run: (ctx) => ({ outputs: ctx.input.map((a) => ({ kind: a.kind, payload: a.payload })) }) };
export default dock;
export const score = dock;
`,
  'steps/compare.mjs': `export default { kind: 'sink', run: (ctx) => ({ outputs: [{ kind: 'compare', payload: { named: Object.keys(ctx.inputs) } }] }) };
`,
};

/** What a command shown but not run may name: chemflow's commands and options, npm scripts, the checkout's files. */
const SHOWN: ShownContext = {
  cli: cliShape(buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: ROOT }).command),
  scripts: new Set(Object.keys((JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts)),
  exists: (path) => existsSync(join(ROOT, path)),
};

/** A command the doc shows without running it: it parses as shell, and names commands, options, scripts and files that exist. */
function expectWellFormed(block: FencedBlock, shown: readonly DocCommand[]): void {
  for (const c of shown) {
    const at = `${where(block, c.line)}: \`${c.command}\``;
    try {
      execFileSync('bash', ['-n', '-c', c.command], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`${at} is not valid shell: ${String((error as { stderr?: unknown }).stderr ?? error)}`, { cause: error });
    }
    expect(shownCommandProblems(c.command, SHOWN), at).toEqual([]);
  }
}

const where = (block: { file: string }, line: number): string => `${block.file}:${line}`;
const short = (text: string): string => (text.length > 70 ? `${text.slice(0, 69)}…` : text);

let ws: Workspace;
let pgSchema: TestSchema | undefined;
let shims: string;
/** The last flow id each database printed (by `--db`, DATABASE_URL or the default): what `<flowId>` and `3c1e…` in a command stand for. */
const lastFlowId = new Map<string, string>();

beforeAll(async () => {
  await ensureBuilt();
  ws = await workspace();
  for (const example of await readdir(join(ROOT, 'examples'))) {
    await cp(join(ROOT, 'examples', example), join(ws.dir, 'examples', example), {
      recursive: true,
      filter: (source) => !/[\\/](out|\.chemflow)$/.test(source),
    });
  }
  await symlink(join(ROOT, 'bin'), join(ws.dir, 'bin'), 'dir');
  for (const [path, text] of Object.entries(STAND_INS)) await ws.write(path, text);
  for (const block of BLOCKS) for (const module of stepModuleFiles(block)) await ws.write(module.path, module.text);
  // `chemflow` and `npx chemflow` are the built CLI; any other `npx` is npm's.
  shims = await mkdtemp(join(tmpdir(), 'chemflow-docs-bin-'));
  const cli = `exec "${process.execPath}" "${join(ROOT, 'bin', 'chemflow.js')}" "$@"`;
  const realNpx = (await promisify(execFile)('bash', ['-c', 'command -v npx'])).stdout.trim();
  await writeFile(join(shims, 'chemflow'), `#!/bin/sh\n${cli}\n`);
  await writeFile(join(shims, 'npx'), `#!/bin/sh\nif [ "$1" = chemflow ]; then shift; ${cli}; fi\nexec "${realNpx}" "$@"\n`);
  await chmod(join(shims, 'chemflow'), 0o755);
  await chmod(join(shims, 'npx'), 0o755);
  if (pgAvailable) pgSchema = await createTestSchema('docs');
}, 300_000);

afterAll(async () => {
  await pgSchema?.drop();
  await ws?.remove();
  if (shims !== undefined) await rm(shims, { recursive: true, force: true });
});

interface Ran {
  code: number | null;
  output: string;
}

function shellEnv(blockEnv: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', PATH: `${shims}:${process.env.PATH ?? ''}`, ...blockEnv };
  if (blockEnv.DATABASE_URL === undefined) delete env.DATABASE_URL;
  return env;
}

/** Runs one command line through bash in the workspace, stdout and stderr interleaved as on a terminal. */
function sh(command: string, env: NodeJS.ProcessEnv, timeoutMs = 200_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    // A group of its own, so that a command that hangs is killed with every process of its pipeline.
    const child = spawn('bash', ['-c', `exec 2>&1\n${command}`], { cwd: ws.dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** `chemflow worker` without `--once` runs until stopped: run it until the queue is empty, then stop it as an operator would (SIGTERM). */
async function runWorkerUntilIdle(command: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  const child = spawn('bash', ['-c', `exec 2>&1\nexec ${command}`], { cwd: ws.dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const pid = child.pid ?? 0;
  try {
    await waitUntil(
      async () => {
        const open = await sh('chemflow flows --status pending --status running --status waiting --json', env);
        return open.code === 0 && (JSON.parse(open.output) as unknown[]).length === 0;
      },
      `the queue to empty under \`${command}\``,
      200_000,
    );
  } finally {
    // Its own process group (detached): bash has exec'd into the worker, so this is the worker alone.
    killGroup(pid, 'SIGTERM');
  }
  const stuck = setTimeout(() => killGroup(pid, 'SIGKILL'), 90_000);
  const code = await exited;
  clearTimeout(stuck);
  return { code, output };
}

/** Signals the process group a command of this test leads; a no-op once it is gone. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  try {
    if (pid !== undefined) process.kill(-pid, signal);
  } catch {
    // Already gone: its exit code tells.
  }
}

async function runCommand(block: FencedBlock, c: DocCommand, blockEnv: Record<string, string>): Promise<void> {
  const assignment = /^export (\w+)=(\S+)/.exec(c.command);
  if (assignment) {
    const [, name = '', value = ''] = assignment;
    // The doc's server is an example: the test's own schema stands in for it.
    blockEnv[name] = name === 'DATABASE_URL' && /^postgres(ql)?:\/\//.test(value) && pgSchema ? pgSchema.url : value;
    return;
  }
  // `--db` names the database on the command line itself; else DATABASE_URL; else the default embedded one.
  const database = /--db[ =](\S+)/.exec(c.command)?.[1] ?? blockEnv.DATABASE_URL ?? 'embedded';
  const command = c.command.replace(/<flowId>|(?<!\w)[0-9a-f]{4}…/g, () => {
    const id = lastFlowId.get(database);
    if (id === undefined) throw new Error(`${where(block, c.line)}: \`${c.command}\` names a flow, but no command before it printed one`);
    return id;
  });
  const env = shellEnv(blockEnv);
  const ran = /\bchemflow worker\b/.test(command) && !/--once\b/.test(command) ? await runWorkerUntilIdle(command, env) : await sh(command, env);
  const context = `${where(block, c.line)}: \`${command}\` (exit ${ran.code}):\n${ran.output}`;
  expect(ran.code, context).toBe(c.exitCode);
  if (c.output.length > 0) expect(transcriptMatches(c.output, ran.output, numbersVary(block)), `${context}\nexpected, as the doc shows:\n${c.output.join('\n')}`).toBe(true);
  const ids = ran.output.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g);
  if (ids) lastFlowId.set(database, ids[0]);
}

const needsPg = (block: FencedBlock): boolean => /^export DATABASE_URL=postgres/m.test(block.text);

describe('the documentation, run as printed', () => {
  it('calls the CLI through npx (or node ./bin/chemflow.js) in README.md and examples/*/README.md: a clone has no chemflow on its PATH', () => {
    const bare = BLOCKS.filter((b) => CLONE_DOCS(b.file) && isShellBlock(b)).flatMap((b) =>
      shellCommands(b)
        .filter((c) => /(^|[;&|]\s*)chemflow\b/.test(c.command.replace(/\s#.*$/, '')))
        .map((c) => `${where(b, c.line)}: ${c.command}`),
    );
    expect(bare).toEqual([]);
  });

  for (const block of BLOCKS.filter(isShellBlock)) {
    const skipped = blockSkipReason(block);
    const commands = shellCommands(block);
    const title = (shown: DocCommand[]): string => `${where(block, block.line)}: ${short(shown.map((c) => c.command.replace(/\s+#.*$/, '')).join('; '))}`;
    if (skipped !== null) {
      it(`${title(commands)} — shown, not run (${skipped}): well-formed`, () => expectWellFormed(block, commands));
      continue;
    }
    for (const c of commands.filter((c) => c.skipReason !== null))
      it(`${where(block, c.line)}: ${short(c.command.replace(/\s+#.*$/, ''))} — shown, not run (${c.skipReason}): well-formed`, () => expectWellFormed(block, [c]));
    const run = commands.filter((c) => c.skipReason === null);
    if (run.length === 0) continue;
    const noServer = needsPg(block) && !pgAvailable;
    it.skipIf(noServer)(noServer ? `${title(run)} — SKIPPED: ${pgSkipReason ?? ''}` : title(run), { timeout: E2E_TIMEOUT_MS * 2 }, async () => {
      const blockEnv: Record<string, string> = {};
      for (const c of run) await runCommand(block, c, blockEnv);
    });
  }

  for (const block of BLOCKS.filter((b) => stepModuleFiles(b).length > 0)) {
    it(`${where(block, block.line)}: ${stepModuleFiles(block).map((m) => m.path).join(', ')} are step modules`, async () => {
      for (const module of stepModuleFiles(block)) await resolveStepModule(`./${module.path}`, ws.dir, {});
    });
  }

  // A block marked `<!-- a step of FILE -->` shows steps of a flow file of the checkout: they are that file's, which loads.
  for (const block of BLOCKS.filter((b) => b.lang === 'yaml' && stepsOfFile(b) !== null)) {
    const file = stepsOfFile(block) as string;
    it(`${where(block, block.line)}: the steps shown are ${file}'s, which loads`, async () => {
      const shown = parse(block.text) as unknown;
      const steps = (Array.isArray(shown) ? shown : [shown]) as { id?: unknown }[];
      const original = parse(await readFile(join(ROOT, file), 'utf8')) as { steps: { id: unknown }[] };
      for (const step of steps) expect(step, `${where(block, block.line)}: step ${String(step.id)} of ${file}`).toEqual(original.steps.find((s) => s.id === step.id));
      const loaded = await loadFlowFile(join(ROOT, file), { builtins: BUILTIN_STEPS, cwd: ROOT });
      expect(loaded.definition.steps.map((s) => s.id)).toEqual(expect.arrayContaining(steps.map((s) => s.id)));
    });
  }

  for (const block of BLOCKS.filter((b) => b.lang === 'yaml' && stepsOfFile(b) === null)) {
    it(`${where(block, block.line)}: the flow file${isFragment(block) ? ' (completed into a flow file)' : ''} loads`, async () => {
      // Beside the workspace's steps/, which the examples' module paths name.
      const file = await ws.write(`doc-flow-${block.file.replace(/\W/g, '_')}-${block.line}.yaml`, flowFileOf(block));
      const loaded = await loadFlowFile(file, { builtins: BUILTIN_STEPS, cwd: ws.dir }).catch((error: unknown) => {
        throw new Error(`${where(block, block.line)}: ${error instanceof FlowFileError ? error.message : String(error)}\n${flowFileOf(block)}`);
      });
      expect(loaded.definition.steps.length).toBeGreaterThan(0);
    });
  }

  // The audit queries (every `sql` block of SELECTs), on the flows the commands above left in PostgreSQL.
  for (const block of BLOCKS.filter((b) => b.lang === 'sql' && sqlStatements(b).every((s) => /^\s*SELECT\b/i.test(s)))) {
    const title = `${where(block, block.line)}: the audit queries run on PostgreSQL`;
    it.skipIf(!pgAvailable)(pgAvailable ? title : `${title} — SKIPPED: ${pgSkipReason ?? ''}`, async () => {
      const schema = pgSchema as TestSchema;
      const flowId = lastFlowId.get(schema.url);
      if (flowId === undefined) throw new Error('no command of the docs ran a flow on PostgreSQL before the audit queries');
      const client = new pg.Client({ connectionString: schema.url });
      await client.connect();
      try {
        for (const statement of sqlStatements(block)) {
          // `$n` is what the query compares it with: a flow's id, or a step id of that flow.
          const values = [...statement.matchAll(/(\w+) = \$(\d)/g)].sort((a, b) => Number(a[2]) - Number(b[2])).map((m) => (m[1] === 'flow_id' ? flowId : 'properties'));
          await client.query(statement, values).catch((error: unknown) => {
            throw new Error(`${where(block, block.line)}: ${String(error)}\n${statement}`);
          });
        }
      } finally {
        await client.end();
      }
    });
  }

  for (const example of ['lipinski', 'screening', 'native-scores']) {
    it(`examples/${example}/flow.yaml loads`, async () => {
      await loadFlowFile(join(ws.dir, 'examples', example, 'flow.yaml'), { builtins: BUILTIN_STEPS, cwd: ws.dir });
    });
  }
});

/** The statements of a `sql` block, comments left out. */
function sqlStatements(block: FencedBlock): string[] {
  return block.text
    .replace(/--.*$/gm, '')
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A block that shows part of a flow file: a list of steps, or a file without its `name`. */
/** The flow file of the checkout a block's steps are taken from (`<!-- a step of FILE -->`), or null. */
function stepsOfFile(block: FencedBlock): string | null {
  for (const marker of block.markers) {
    const match = /^a step of (\S+)$/.exec(marker);
    if (match) return match[1] ?? null;
  }
  return null;
}

function isFragment(block: FencedBlock): boolean {
  const document: unknown = parse(block.text);
  return Array.isArray(document) || (typeof document === 'object' && document !== null && !('name' in document));
}

/**
 * The flow file a block shows; a fragment gets a name and, when it does not start with one, the
 * `chem/read-smiles` source its steps read from (the block's own lines are kept as written).
 */
function flowFileOf(block: FencedBlock): string {
  if (!isFragment(block)) return block.text;
  const document: unknown = parse(block.text);
  const steps = (Array.isArray(document) ? document : ((document as { steps?: unknown[] }).steps ?? [])) as { uses?: string }[];
  const source = steps[0]?.uses === 'chem/read-smiles' ? [] : [{ id: 'read', uses: 'chem/read-smiles', params: { file: 'molecules.csv' } }];
  const rest = Array.isArray(document) ? {} : (document as Record<string, unknown>);
  return stringify({ name: 'example', ...rest, steps: [...source, ...steps] });
}

/** The "Using it from code" sample of README.md, exactly as a reader copies it. */
async function readmeSample(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Using it from code'));
  const sample = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (sample === undefined) throw new Error('README.md has no ```ts sample under "## Using it from code"');
  return sample;
}

/**
 * Runs a script that imports `chemflow` by its package name, from a project of its own in a temporary
 * directory whose `node_modules/chemflow` links to this checkout (as an installed package would be), so
 * it sees exactly the public API a user gets and writes nothing into the checkout.
 */
async function runAsUser(source: string): Promise<string> {
  const project = await mkdtemp(join(tmpdir(), 'chemflow-readme-'));
  try {
    await mkdir(join(project, 'node_modules'));
    await symlink(ROOT, join(project, 'node_modules', 'chemflow'), 'dir');
    await symlink(join(ROOT, 'node_modules', 'tsx'), join(project, 'node_modules', 'tsx'), 'dir');
    const file = join(project, 'sample.mts');
    await writeFile(file, source);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { cwd: project, timeout: 90_000 });
    return stdout;
  } finally {
    await rm(project, { recursive: true, force: true });
  }
}

describe('README "Using it from code"', () => {
  let inMemory: string | undefined;

  it('runs as printed: the flaky step is retried and the flow completes with a fingerprint', { timeout: 120_000 }, async () => {
    const out = await runAsUser(await readmeSample());
    inMemory = out.slice(0, 64);
    expect(out).toMatch(/^[0-9a-f]{64} /);
    expect(out).toContain("[ 'seed', 'FinishedOk', 1, 0 ]");
    expect(out).toContain("[ 'double', 'FinishedOk', 2, 1 ]");
  });

  it('runs on the embedded database through openStore, with the same flow fingerprint', { timeout: 180_000 }, async () => {
    const sample = await readmeSample();
    const memory = inMemory ?? (await runAsUser(sample)).slice(0, 64);
    const onPglite = sample
      .replace("import { defineFlow, FlowEngine, MemoryFlowStore, TransientError } from 'chemflow';", "import { defineFlow, FlowEngine, openStore, TransientError } from 'chemflow';")
      .replace('new MemoryFlowStore()', "await openStore('pglite-memory')");
    expect(onPglite).toContain("openStore('pglite-memory')");
    expect((await runAsUser(onPglite)).slice(0, 64)).toBe(memory);
  });
});
