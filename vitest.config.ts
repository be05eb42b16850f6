import { defineConfig } from 'vitest/config';

// Two projects, so each can run alone: `unit` needs no storage and runs in seconds (npm run test:unit);
// `integration` starts a private Azurite and the local runtime per file (npm run test:integration).
// `npx vitest run` runs both. The browser tests have their own config (vitest.ui.config.ts).
export default defineConfig({
  test: {
    testTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], hookTimeout: 60_000 } },
    ],
  },
});
