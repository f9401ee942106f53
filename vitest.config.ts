import { defineConfig } from 'vitest/config'

// Integration tests start real sandboxes and real servers; on a 2-core machine they run one
// file at a time so timings stay sane.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
})
