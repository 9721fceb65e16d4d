import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    // Starts the embedded database once (or uses MONGODB_URI) and provides its URI to the tests.
    globalSetup: ['test/setup/database.ts'],
    // Several tests train full models (a minute of CPU each); on the 2-core machine shared by other
    // jobs they have taken over 5 minutes of wall time, so the limits are generous.
    testTimeout: 900_000,
    hookTimeout: 900_000,
    // Integration tests start CLIs and train models; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
  },
});
