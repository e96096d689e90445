import { defineConfig } from 'vitest/config';

// Sized for a loaded 2-core machine (CI shares its machine too): there a fresh embedded database takes
// ~7 s (2.4 s quiet; 18 s seen at a load average of 16). The engine suites open one per test, each a
// copy of one migrated database made once per run (under a second: see the global setup); the CLI's
// processes still create their own. E2e suites set their own, larger budget (E2E_TIMEOUT_MS in
// test/cli/support/cli.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One migrated embedded database per run, which the PGlite test stores copy (test/support/pglite-template.ts).
    globalSetup: ['test/support/global-setup.ts'],
    // Two files at a time: most suites wait on processes and databases rather than compute, and vitest's
    // default on a 2-core machine (cores - 1) runs the files one after another. More would only
    // share the two cores among more embedded databases and CLI processes (the e2e files, most of the
    // run's time now, start several at once).
    maxWorkers: 2,
    // The files of a worker share one module graph instead of importing the sources anew for each
    // file (70 s of imports in the unit and integration files, 10 s shared; their run 439 → 318 s).
    // Every file closes its stores and servers and restores the environment variables it sets.
    isolate: false,
    testTimeout: 90_000,
    hookTimeout: 180_000,
  },
});
