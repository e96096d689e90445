import { defineConfig } from 'vitest/config';

// Sized for a loaded 2-core machine (CI shares its machine too): there a fresh embedded database takes
// ~7 s (2.4 s quiet; 18 s seen at a load average of 16), and the engine suites open one per test.
// E2e suites set their own, larger budget (E2E_TIMEOUT_MS in test/cli/support/cli.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One migrated embedded database per run, which the PGlite test stores copy (test/support/pglite-template.ts).
    globalSetup: ['test/support/global-setup.ts'],
    // Two files at a time: most suites wait on processes and databases rather than compute, and vitest's
    // default on a 2-core machine (cores - 1) runs the files one after another.
    maxWorkers: 2,
    testTimeout: 90_000,
    hookTimeout: 180_000,
  },
});
