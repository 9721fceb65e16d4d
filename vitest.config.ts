import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/security/**/*.test.ts'],
    // One temporary directory for the whole run, removed at the end (first, so it is torn down
    // last); then the embedded database, started once (or MONGODB_URI), its URI provided to the tests.
    globalSetup: ['test/setup/temp-root.ts', 'test/setup/database.ts'],
    // Several tests train full models (a minute of CPU each); on the 2-core machine shared by other
    // jobs they have taken over 5 minutes of wall time, so the limits are generous.
    testTimeout: 900_000,
    hookTimeout: 900_000,
    // expect.poll waits for something to happen (a page to update, a login to be refused), not for
    // it to be fast: speed is measured by the benchmarks. 1 s (the default) fails on a busy machine;
    // CI's 2 cores are shared and loaded, so the deadline is generous: a poll returns as soon as its
    // condition holds, and still fails when it never does.
    expect: { poll: { timeout: 30_000 } },
    // Integration tests start CLIs and train models; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
  },
});
