import { defineConfig } from 'vitest/config';

/** Test files that need the local stack (test/global-setup.ts starts it once for them). */
const INTEGRATION = ['test/**/*.int.test.ts', 'test/end-to-end.test.ts'];
const EXCLUDE = ['node_modules/**', '.serverless/**', '.esbuild/**'];

const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
  env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
};

// `npm test` runs both projects; `npm run test:unit` only the first, which starts no service.
export default defineConfig({
  test: {
    projects: [
      {
        test: { ...shared, name: 'unit', include: ['**/*.test.ts'], exclude: [...EXCLUDE, ...INTEGRATION] },
      },
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
