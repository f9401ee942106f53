import { readdirSync, readFileSync } from 'node:fs'
import { defineConfig } from 'vitest/config'

/**
 * Two projects. `system`: files that start real sandboxes, servers, gateways or a browser (they
 * import one of these helpers, or spawn processes themselves); on a 2-core machine they run one
 * file at a time so timings stay sane. `fast`: everything else (in-process app, store, pure
 * functions), run in parallel first. `npm test -- --project fast` runs only those.
 */
const SYSTEM = /helpers\/(server|driver|sandbox|browser|internet)\.js|withDriver: true|GATEWAY_PLANS|node:child_process/
const files = readdirSync('test').filter((f) => f.endsWith('.test.ts'))
const system = files.filter((f) => SYSTEM.test(readFileSync(`test/${f}`, 'utf8'))).map((f) => `test/${f}`)
const fast = files.map((f) => `test/${f}`).filter((f) => !system.includes(f))

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'fast', include: fast, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: { name: 'system', include: system, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
})
