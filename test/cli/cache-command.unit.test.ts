// `chemflow cache stats|prune`, `status` of a cached step, and `run --cache` parsing, in process
// (`main` with buffered streams) on an embedded PGlite database in a temporary directory.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOlderThan } from '../../src/cli/commands/cache.js';
import { main } from '../../src/cli/main.js';
import type { NewFlowEvent } from '../../src/core/events.js';
import { openPgliteStore } from '../../src/stores/open-store.js';
import { artifactOf, flowInitialized, stepFinished, stepStarted } from '../helpers/events.js';

let dir: string;
let db: string;
let cachedFlow: string;
let sourceFlow: string;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env: {}, cwd: dir };
  const code = await main(['node', 'chemflow', '--db', db, ...args], io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chemflow-cache-cli-'));
  db = join(dir, 'db');
  const store = await openPgliteStore(db);
  try {
    const output = artifactOf({ molecules: randomUUID(), padding: 'x'.repeat(100) });
    sourceFlow = randomUUID();
    await store.append(sourceFlow, 0, [flowInitialized(), stepStarted(0), stepFinished(0, [output.hash])], {
      artifacts: [output],
      cacheEntry: { key: 'a'.repeat(64), stepIndex: 0, stepType: 'chem/read-smiles' },
    });
    cachedFlow = randomUUID();
    const cached = { ...stepFinished(0, [output.hash]), cachedFrom: { flowId: sourceFlow, stepId: 'load' } } as NewFlowEvent;
    await store.append(cachedFlow, 0, [flowInitialized(), cached]);
  } finally {
    await store.close();
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('chemflow cache', () => {
  it('stats: hits, entries and artifact bytes, as text and JSON', async () => {
    const json = await cli('cache', 'stats', '--json');
    expect(json.code, json.stderr).toBe(0);
    const stats = JSON.parse(json.stdout) as { hits: number; entries: number; artifactBytes: number };
    expect(stats).toMatchObject({ hits: 1, entries: 1 });
    expect(stats.artifactBytes).toBeGreaterThan(100);
    const text = await cli('cache', 'stats');
    expect(text.stdout).toMatch(/^Cache hits +1 step\(s\) satisfied from the cache$/m);
    expect(text.stdout).toMatch(/^Cache entries +1 /m);
  });

  it('status says which steps were cached, in JSON and in the summary', async () => {
    const json = await cli('status', cachedFlow, '--json');
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { steps: { stepId: string; cached: boolean; cachedFrom: unknown }[] };
    expect(report.steps.map((s) => [s.stepId, s.cached])).toEqual([['load', true], ['score', false], ['report', false]]);
    expect(report.steps[0]?.cachedFrom).toEqual({ flowId: sourceFlow, stepId: 'load' });
    const text = await cli('status', cachedFlow);
    expect(text.stdout).toMatch(/^load +FinishedOk \(cached\) /m);
    expect(text.stdout).toContain('Cached: 1 step(s) taken from the step cache, not run (load)');
    expect((await cli('status', sourceFlow)).stdout).not.toContain('cached');
  });

  it('prune refuses to run without a filter or with a bad date, then drops only what matches', async () => {
    const bare = await cli('cache', 'prune');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/--older-than, --step-type or --all/);
    expect((await cli('cache', 'prune', '--older-than', 'last tuesday')).code).toBe(2);
    const other = await cli('cache', 'prune', '--step-type', 'chem/report', '--json');
    expect(JSON.parse(other.stdout)).toEqual({ deleted: 0, olderThan: null, stepType: 'chem/report' });
    const old = await cli('cache', 'prune', '--older-than', '2020-01-01', '--json');
    expect(JSON.parse(old.stdout)).toMatchObject({ deleted: 0, olderThan: '2020-01-01T00:00:00.000Z' });
    const pruned = await cli('cache', 'prune', '--step-type', 'chem/read-smiles');
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toBe('Pruned 1 cache entry; the event log is unchanged.\n');
    const after = JSON.parse((await cli('cache', 'stats', '--json')).stdout) as { hits: number; entries: number; artifactBytes: number };
    expect(after).toEqual({ hits: 1, entries: 0, artifactBytes: 0 });
    expect((await cli('events', sourceFlow, '--json')).code).toBe(0);
  });

  it('run takes --cache and --no-cache; other spellings are unknown options', async () => {
    // The flow file is missing: parsing got as far as the command (exit 2 from the file, not the flag).
    for (const flag of ['--cache', '--no-cache']) {
      const result = await cli('run', 'missing.yaml', flag);
      expect(result.code).toBe(2);
      expect(result.stderr).not.toMatch(/unknown option/);
    }
    expect((await cli('run', 'missing.yaml', '--caching')).stderr).toMatch(/unknown option/);
  });
});

describe('--older-than', () => {
  it('takes ISO dates and times, and ages back from now', () => {
    const now = Date.parse('2026-03-10T12:00:00Z');
    expect(parseOlderThan('2026-01-31', now)?.toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(parseOlderThan('2026-01-31T06:30:00Z', now)?.toISOString()).toBe('2026-01-31T06:30:00.000Z');
    expect(parseOlderThan('30d', now)?.toISOString()).toBe('2026-02-08T12:00:00.000Z');
    expect(parseOlderThan('12h', now)?.toISOString()).toBe('2026-03-10T00:00:00.000Z');
    expect(parseOlderThan('90m', now)?.toISOString()).toBe('2026-03-10T10:30:00.000Z');
    for (const bad of ['yesterday', '30', '30y', '2026-13-45', '']) expect(parseOlderThan(bad, now)).toBeUndefined();
  });
});
