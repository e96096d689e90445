import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { chemflow, ensureBuilt, ROOT } from '../cli/support/cli.js';

const run = promisify(execFile);

interface PackageJson {
  name: string;
  license: string;
  dependencies: Record<string, string>;
  exports: Record<string, unknown>;
}

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

/** Runs an ES module in a fresh Node process from the package root, so `chemflow/...` resolves to this package. */
async function nodeModule(source: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', source], { cwd: ROOT, timeout: 60_000 });
  return stdout;
}

/** Prints the tsx/esbuild files Node loaded (tsx's loader API pulls esbuild in through require). */
const LOADED_TSX = `
import { createRequire } from 'node:module';
const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((f) => /node_modules[\\\\/](tsx|esbuild)[\\\\/]/.test(f));
`;

beforeAll(ensureBuilt, 180_000);

describe('the published package', () => {
  let files: string[];
  beforeAll(async () => {
    // --ignore-scripts: `prepare` would rebuild dist/ in the checkout; ensureBuilt already did.
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, timeout: 120_000 });
    files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
  }, 180_000);

  it('ships the Apache-2.0 LICENSE that package.json names', async () => {
    expect(pkg.license).toBe('Apache-2.0');
    expect(files).toContain('LICENSE');
    const text = await readFile(join(ROOT, 'LICENSE'), 'utf8');
    expect(text).toContain('Apache License');
    expect(text).toContain('Version 2.0, January 2004');
    expect(text).toContain('END OF TERMS AND CONDITIONS');
  });

  it('ships the docs that --help and the README point to', async () => {
    for (const doc of ['docs/cli.md', 'docs/errors.md', 'docs/retry.md', 'docs/architecture.md', 'docs/chemistry.md']) expect(files).toContain(doc);
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    for (const [, link] of readme.matchAll(/\]\((docs\/[^)#]+)/g)) expect(files, link).toContain(link);
    const help = await chemflow(['--help'], { cwd: tmpdir() });
    const path = /: (\/\S+\/docs\/cli\.md)$/m.exec(help.stdout)?.[1];
    expect(path, help.stdout).toBe(join(ROOT, 'docs', 'cli.md'));
  });

  it('ships the web app that `chemflow ui` serves, and the screenshots of its page', () => {
    for (const file of ['web/index.html', 'web/app.js', 'web/style.css', 'dist/cli/ui/server.js', 'docs/ui.md', 'docs/images/ui-flows.png']) expect(files).toContain(file);
  });

  it('ships the examples without their generated out/ and dist/ without source maps', async () => {
    expect(files).toContain('examples/lipinski/flow.yaml');
    expect(files).toContain('dist/index.js');
    expect(files.filter((f) => f.endsWith('.map') || /^examples\/[^/]+\/out\//.test(f))).toEqual([]);
    // As after `npm start`: a package root whose examples have their out/ written.
    const dir = await mkdtemp(join(tmpdir(), 'chemflow-pack-'));
    try {
      await copyFile(join(ROOT, 'package.json'), join(dir, 'package.json'));
      const stage = async (path: string): Promise<void> => {
        await mkdir(dirname(join(dir, path)), { recursive: true });
        await writeFile(join(dir, path), 'x\n');
      };
      for (const path of ['dist/index.js', 'dist/index.js.map', 'dist/cli/main.js.map', 'examples/lipinski/flow.yaml', 'examples/lipinski/out/lipinski.csv', 'examples/lipinski/out/lipinski.html', 'examples/screening/out/screening.csv'])
        await stage(path);
      const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, timeout: 120_000 });
      const packed = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path).sort();
      expect(packed).toEqual(['dist/index.js', 'examples/lipinski/flow.yaml', 'package.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('runs an example from the installed package with its report in the working directory, never inside node_modules', async () => {
    const project = await mkdtemp(join(tmpdir(), 'chemflow-installed-'));
    try {
      const example = join(project, 'node_modules', 'chemflow', 'examples', 'lipinski');
      await mkdir(example, { recursive: true });
      await copyFile(join(ROOT, 'examples', 'lipinski', 'flow.yaml'), join(example, 'flow.yaml'));
      // The example's first 12 molecules: where the report goes does not depend on how many.
      const molecules = (await readFile(join(ROOT, 'examples', 'lipinski', 'molecules.csv'), 'utf8')).split('\n').slice(0, 13).join('\n');
      await writeFile(join(example, 'molecules.csv'), `${molecules}\n`);
      const result = await chemflow(['--db', 'memory', 'run', 'node_modules/chemflow/examples/lipinski/flow.yaml'], { cwd: project, timeoutMs: 180_000 });
      expect(result.code, result.stderr).toBe(0);
      expect(existsSync(join(project, 'out', 'lipinski.csv'))).toBe(true);
      expect(existsSync(join(project, 'out', 'lipinski.html'))).toBe(true);
      expect(existsSync(join(example, 'out'))).toBe(false);
      expect(result.stdout).toContain(`Wrote ${join(project, 'out', 'lipinski.csv')} and ${join(project, 'out', 'lipinski.html')}`);
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  }, 240_000);

  it('exports ./package.json', async () => {
    expect(pkg.exports['./package.json']).toBe('./package.json');
    expect((await nodeModule(`import p from 'chemflow/package.json' with { type: 'json' }; console.log(p.name);`)).trim()).toBe('chemflow');
  });

  it('importing the library does not load tsx; loading a .ts step module does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chemflow-lazy-tsx-'));
    try {
      await writeFile(join(dir, 'step.ts'), "export default { kind: 'source' as const, run: () => ({ outputs: [] }) };\n");
      await writeFile(join(dir, 'flow.yaml'), 'name: ts\nsteps:\n  - { id: one, uses: ./step.ts }\n');
      const out = await nodeModule(`${LOADED_TSX}
const { loadFlowFile } = await import('chemflow');
console.log(JSON.stringify(loaded()));
await loadFlowFile(${JSON.stringify(join(dir, 'flow.yaml'))}, { builtins: {} });
console.log(JSON.stringify(loaded()));
process.exit(0);`);
      const [afterImport, afterTs] = out.trim().split('\n').map((line) => JSON.parse(line) as string[]);
      expect(afterImport).toEqual([]);
      expect(afterTs?.length).toBeGreaterThan(0); // the check above would see tsx if it were loaded
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('its type declarations need no @types package: every module they import ships its own types', async () => {
    const { files: reached, imported } = await declarationGraph(join(ROOT, 'dist', 'index.d.ts'));
    // The walk does reach the PostgreSQL store's options (the declarations that once imported pg).
    expect(reached).toContain(join(ROOT, 'dist', 'stores', 'pg', 'pg-executor-options.d.ts'));
    for (const specifier of imported) {
      const name = packageName(specifier);
      expect(Object.keys(pkg.dependencies), `${specifier} is not a dependency`).toContain(name);
      const manifest = JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(typesOf(manifest), `${name} ships no type declarations (it would need @types/${name})`).toBe(true);
    }
  });
});

/** The declaration files reachable from `entry`, and the bare module specifiers they import. */
async function declarationGraph(entry: string): Promise<{ files: Set<string>; imported: Set<string> }> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = await readFile(file, 'utf8');
    const specifiers = [
      ...text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g),
      ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ...text.matchAll(/\/\/\/\s*<reference\s+types=['"]([^'"]+)['"]/g),
    ].map((m) => m[1] ?? '');
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier.replace(/\.js$/, '.d.ts')));
      else if (!specifier.startsWith('node:')) bare.add(specifier);
    }
  }
  return { files: seen, imported: bare };
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

function typesOf(manifest: Record<string, unknown>): boolean {
  if (typeof manifest.types === 'string' || typeof manifest.typings === 'string') return true;
  return JSON.stringify(manifest.exports ?? {}).includes('"types"');
}
