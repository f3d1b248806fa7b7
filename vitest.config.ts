import { defineConfig } from 'vitest/config';

// Tests run on the TypeScript sources: the `strand-source` export condition points every
// @strand/* import at `src/` so no build is needed between an edit and a test run.
export default defineConfig({
  resolve: { conditions: ['strand-source'] },
  ssr: { resolve: { conditions: ['strand-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Stops the throw-away S3 server the store-s3 tests started, if this run started it.
    globalSetup: ['test/support/rgw-global-setup.ts'],
  },
});
