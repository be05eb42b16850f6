import { defineConfig } from 'vitest/config';

// Infrastructure checks, run by `npm run test:infra` (tools/bicep/run.sh) after the Bicep build,
// lint and snapshot steps have written .bicep/out/. Not part of the default `npm test`.
export default defineConfig({
  test: {
    include: ['test/infra/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 180_000,
    // One worker: the packaging test runs the TypeScript build, the template tests are quick.
    fileParallelism: false,
  },
});
