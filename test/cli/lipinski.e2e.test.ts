import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyLipinskiExample, ensureBuilt, ROOT, workspace, type Workspace } from './support/cli.js';

const EXAMPLE = join(ROOT, 'examples', 'lipinski', 'flow.yaml');

/**
 * The main job through the CLI: the RDKit pipeline on the embedded database. Never skipped:
 * a missing example is a failure.
 */
describe('chemflow run examples/lipinski/flow.yaml', () => {
  let ws: Workspace;
  let flowFile: string;
  beforeAll(async () => {
    expect(existsSync(EXAMPLE), `${EXAMPLE} is missing`).toBe(true);
    await ensureBuilt();
    ws = await workspace();
    flowFile = await copyLipinskiExample(ws); // its out/ goes to the workspace, not into the checkout
  }, 180_000);
  afterAll(() => ws?.remove());

  it('completes, prints the summary with error counts, and gives the same flow fingerprint twice', { timeout: 180_000 }, async () => {
    const human = await ws.cli('run', flowFile);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/Status\s+completed/);
    expect(human.stdout).toMatch(/Fingerprint\s+[0-9a-f]{64}/);
    expect(human.stdout).toMatch(/^Errors: \d+ \(Transient \d+, Permanent \d+, Validation \d+, Runtime \d+\)$/m);
    expect(human.stdout).toMatch(/^Errors: 2 \(Transient 2, Permanent 0, Validation 0, Runtime 0\)$/m);
    expect(human.stdout).toMatch(/^properties\s+FinishedOk\s+3\s+2\s/m);
    // The note names the files where they were written, by absolute path.
    const out = join(ws.dir, 'lipinski', 'out');
    expect(human.stdout).toContain(
      `Notes:\n  report: 142 molecules: 136 pass the rule of five, 6 fail; 2 input row(s) rejected. Wrote ${join(out, 'lipinski.csv')} and ${join(out, 'lipinski.html')}\n`,
    );
    const first = /Fingerprint\s+([0-9a-f]{64})/.exec(human.stdout)?.[1];

    const again = await ws.json<{ status: string; flowFingerprint: string; steps: { stepId: string; status: string }[] }>('run', flowFile);
    expect(again.status).toBe('completed');
    expect(again.flowFingerprint).toBe(first);
    expect(again.steps.every((s) => s.status === 'FinishedOk')).toBe(true);
    expect(existsSync(join(ws.dir, 'lipinski', 'out', 'lipinski.html'))).toBe(true);
  });
});
