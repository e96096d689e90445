import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './support/cli.js';

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
  beforeAll(() => ensureBuilt(), 180_000);

  it('runs as printed: the flaky step is retried and the flow completes with a fingerprint', { timeout: 120_000 }, async () => {
    const out = await runAsUser(await readmeSample());
    expect(out).toMatch(/^[0-9a-f]{64} /);
    expect(out).toContain("[ 'seed', 'FinishedOk', 1, 0 ]");
    expect(out).toContain("[ 'double', 'FinishedOk', 2, 1 ]");
  });

  it('runs on the embedded database through openStore, with the same flow fingerprint', { timeout: 180_000 }, async () => {
    const sample = await readmeSample();
    const memory = (await runAsUser(sample)).slice(0, 64);
    const onPglite = sample
      .replace("import { defineFlow, FlowEngine, MemoryFlowStore, TransientError } from 'chemflow';", "import { defineFlow, FlowEngine, openStore, TransientError } from 'chemflow';")
      .replace('new MemoryFlowStore()', "await openStore('pglite-memory')");
    expect(onPglite).toContain("openStore('pglite-memory')");
    expect((await runAsUser(onPglite)).slice(0, 64)).toBe(memory);
  });
});
