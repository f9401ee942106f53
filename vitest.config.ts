import { readdirSync, readFileSync } from 'node:fs'
import { defineConfig } from 'vitest/config'

/**
 * Three projects. `fast`: in-process tests (the app, the store, pure functions), two files at a
 * time, each worker keeping its modules loaded from one file to the next (`isolate: false`:
 * every file builds its own app, store and data folder, so nothing else is shared);
 * `npm test -- --project fast` runs only those. Then two lanes, each one file at a time:
 * - `agent`: files that boot the real OpenClaw gateway (the heaviest boots);
 * - `system`: the other files that start real sandboxes, servers, runners or a browser.
 * `scripts/test.sh` runs the two lanes side by side, as two vitest processes, so a 2-core
 * machine runs one heavy file per core; a plain `vitest run` runs them one after the other.
 * The lanes are CPU-bound side by side (a gateway boot is ~12 s of CPU): a third lane makes
 * each file slower by as much as it gains. Host-wide resources are kept apart between the
 * lanes: the `system` lane's sandboxes take host uids from 250000 (the `agent` lane's from the
 * default 200000), each lane's test "internet" has its own addresses (`CLAWPORT_TEST_LANE`,
 * read by test/helpers/internet.ts and test/network.test.ts), and network namespaces, bridges,
 * data folders and databases carry a process id or a random id.
 */
const SYSTEM = /helpers\/(server|driver|sandbox|browser|internet|runner)\.js|withDriver: true|node:child_process/
const AGENT = /gatewayEnv|GATEWAY_PLANS|SLEEP_PLANS/
const files = readdirSync('test')
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/${f}`)
const source = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]))
/** Gateway files that run in the `system` lane all the same, so the two lanes take about as long. */
const TO_SYSTEM = ['test/swarm.test.ts', 'test/dashboard-work.browser.test.ts', 'test/faults.test.ts']
const agent = files.filter((f) => AGENT.test(source.get(f) ?? '') && !TO_SYSTEM.includes(f))
const system = files.filter((f) => !agent.includes(f) && (SYSTEM.test(source.get(f) ?? '') || TO_SYSTEM.includes(f)))
const fast = files.filter((f) => !agent.includes(f) && !system.includes(f))

export default defineConfig({
  test: {
    // Brings dist/ up to date once for the run (an incremental build: seconds when nothing changed).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'fast', include: fast, isolate: false, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'agent',
          include: agent,
          fileParallelism: false,
          env: { CLAWPORT_TEST_LANE: '0' },
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: system,
          fileParallelism: false,
          env: { CLAWPORT_UID_BASE: '250000', CLAWPORT_TEST_LANE: '1' },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
