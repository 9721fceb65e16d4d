import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Integration tests start CLIs and train models; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
  },
});
