import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
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
 * Runs a script that imports `chemflow` by its package name (Node resolves the package's own name to
 * its built entry), so it sees exactly the public API a user gets.
 */
async function runAsUser(source: string): Promise<string> {
  const file = join(ROOT, `.readme-sample-${process.pid}-${Date.now()}.mts`);
  await writeFile(file, source);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, timeout: 60_000 });
    return stdout;
  } finally {
    await rm(file, { force: true });
  }
}

describe('README "Using it from code"', () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it('runs as printed: the flaky step is retried and the flow completes with a fingerprint', { timeout: 60_000 }, async () => {
    const out = await runAsUser(await readmeSample());
    expect(out).toMatch(/^[0-9a-f]{64} /);
    expect(out).toContain("[ 'seed', 'FinishedOk', 1, 0 ]");
    expect(out).toContain("[ 'double', 'FinishedOk', 2, 1 ]");
  });

  it('runs on the embedded database through openStore, with the same flow fingerprint', { timeout: 60_000 }, async () => {
    const sample = await readmeSample();
    const memory = (await runAsUser(sample)).slice(0, 64);
    const onPglite = sample
      .replace("import { defineFlow, FlowEngine, MemoryFlowStore, TransientError } from 'chemflow';", "import { defineFlow, FlowEngine, openStore, TransientError } from 'chemflow';")
      .replace('new MemoryFlowStore()', "await openStore('pglite-memory')");
    expect(onPglite).toContain("openStore('pglite-memory')");
    expect((await runAsUser(onPglite)).slice(0, 64)).toBe(memory);
  });
});
