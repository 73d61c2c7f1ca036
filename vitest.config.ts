import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    pool: 'forks',
    // Property tests run hundreds of chart walks; give them room on a 2-core CI box.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
