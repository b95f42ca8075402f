import { defineConfig } from 'vitest/config';

/** Test files that need the local stack (test/global-setup.ts starts it once for them). */
const INTEGRATION = ['test/**/*.int.test.ts', 'test/end-to-end.test.ts'];
/** Test files that package the service or build its bundles: tens of seconds, so out of the inner loop. */
const BUILD = ['test/template.test.ts', 'test/esbuild-plugins.test.ts', 'test/check-cloudformation.test.ts'];
const EXCLUDE = ['node_modules/**', '.serverless/**', 'build/**'];

const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
  env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
};

// `npm test` runs every project; `npm run test:unit` only the first (no service, no packaging: seconds),
// `npm run test:build` the packaging and bundle checks, `npm run test:integration` the local stack's.
export default defineConfig({
  test: {
    // `npm run coverage` only (never `npm test`): line and branch coverage of the domain, over the unit and the
    // integration projects. It counts the code that runs in the test processes; the functions serverless-offline
    // runs from their bundles are not seen.
    coverage: {
      provider: 'v8',
      include: ['shared/detach/**/*.ts'],
      exclude: ['**/*.test.ts'],
      reportsDirectory: 'build/coverage',
      reporter: ['text', 'text-summary', 'json-summary'],
      // A long run whose one flaky test fails still says what it covered.
      reportOnFailure: true,
    },
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          // One worker per core reusing its module cache across files: the files' imports (zod, the SDKs) are
          // most of this project's time, and none of these tests leaves state behind for the next file.
          pool: 'threads' as const,
          isolate: false,
          include: ['**/*.test.ts'],
          exclude: [...EXCLUDE, ...INTEGRATION, ...BUILD],
        },
      },
      { test: { ...shared, name: 'build', include: BUILD, exclude: EXCLUDE } },
      {
        test: {
          ...shared,
          name: 'integration',
          include: INTEGRATION,
          exclude: EXCLUDE,
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
