import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chemflow, ensureBuilt } from './support/cli.js';

/** The same transform step in ECMAScript module syntax (TypeScript compiles it to CommonJS where the project says so). */
const ESM_STEP = `const step = {
  kind: 'transform',
  run: (ctx) => ({ outputs: [{ kind: 'trail', payload: { trail: [...ctx.input[0].payload.trail, ctx.stepId] } }] }),
};
export const named = step;
export default step;
`;

/** The same step in CommonJS syntax. */
const CJS_STEP = `const step = {
  kind: 'transform',
  run: (ctx) => ({ outputs: [{ kind: 'trail', payload: { trail: [...ctx.input[0].payload.trail, ctx.stepId] } }] }),
};
module.exports = step;
module.exports.named = step;
`;

const SEED = `module.exports = { kind: 'source', run: () => ({ outputs: [{ kind: 'trail', payload: { trail: [] } }] }) };\n`;

const EXTENSIONS = ['ts', 'mts', 'cts', 'js', 'mjs', 'cjs'] as const;

/** `module`: "type": "module"; `commonjs`: what `npm init -y` writes; `untyped`: no "type" at all. */
const PROJECTS = {
  module: { name: 'esm-project', version: '1.0.0', type: 'module' },
  commonjs: { name: 'cjs-project', version: '1.0.0', main: 'index.js', type: 'commonjs' },
  untyped: { name: 'plain-project', version: '1.0.0', main: 'index.js' },
} as const;

function sourceFor(project: keyof typeof PROJECTS, extension: (typeof EXTENSIONS)[number]): string {
  if (extension === 'cjs') return CJS_STEP;
  if (extension === 'js') return project === 'module' ? ESM_STEP : CJS_STEP;
  return ESM_STEP; // .mjs, and TypeScript in every flavour
}

beforeAll(ensureBuilt, 180_000);

describe.each(Object.keys(PROJECTS) as (keyof typeof PROJECTS)[])('step modules in a %s project', (project) => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `chemflow-modules-${project}-`));
    await writeFile(join(dir, 'package.json'), `${JSON.stringify(PROJECTS[project], null, 2)}\n`);
    await mkdir(join(dir, 'steps'));
    await writeFile(join(dir, 'steps', 'seed.cjs'), SEED);
    const steps = ['  - { id: seed, uses: ./steps/seed.cjs }'];
    for (const extension of EXTENSIONS) {
      await writeFile(join(dir, 'steps', `step.${extension}`), sourceFor(project, extension));
      steps.push(`  - { id: ${extension}-default, uses: ./steps/step.${extension} }`);
      steps.push(`  - { id: ${extension}-named, uses: ./steps/step.${extension}#named }`);
    }
    await writeFile(join(dir, 'flow.yaml'), `name: formats\nsteps:\n${steps.join('\n')}\n`);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('loads .ts, .mts, .cts, .js, .mjs and .cjs modules, default and named exports', async () => {
    const result = await chemflow(['--db', 'memory', 'run', 'flow.yaml', '--json'], { cwd: dir, timeoutMs: 90_000 });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { status: string; steps: { stepId: string; status: string }[] };
    expect(report.status).toBe('completed');
    expect(report.steps.map((s) => s.stepId)).toEqual(['seed', ...EXTENSIONS.flatMap((e) => [`${e}-default`, `${e}-named`])]);
  }, 90_000);
});
