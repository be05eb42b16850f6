import { defineConfig } from 'vitest/config';

// Browser tests: the portal in Debian's Chromium against the app on Azurite (npm run test:ui).
export default defineConfig({
  test: {
    include: ['test/ui/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default'],
  },
});
