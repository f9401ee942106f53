import { readdirSync, readFileSync } from 'node:fs'
import { defineConfig } from 'vitest/config'

/**
 * Projects. `fast`: in-process tests (the app, the store, pure functions), two files at a
 * time, each worker keeping its modules loaded from one file to the next (`isolate: false`:
 * every file builds its own app, store and data folder, so nothing else is shared);
 * `npm test -- --project fast` runs only those. The files that start real sandboxes,
 * gateways, servers, runners or a browser are dealt into lanes (`lane-1` ... `lane-N`), each
 * one file at a time. Most of such a file's time is waiting (a gateway booting, an idle period
 * running out), so `scripts/test.sh` runs the lanes side by side, as one vitest process each
 * (a single vitest run would put single-worker projects on one worker); a plain `vitest run`
 * runs them one after the other.
 *
 * Files are dealt longest first to the lane with the least work so far, by the seconds each
 * took in a recent run (`SECONDS`; a file not listed counts as `UNLISTED_SECONDS`).
 * `CLAWPORT_TEST_LANES` sets how many lanes (3: two cores, half of their time idle otherwise).
 *
 * Host-wide resources are kept apart between the lanes: each lane's sandboxes take host uids of
 * their own (`CLAWPORT_UID_BASE`), each lane's "internet" has its own addresses
 * (`CLAWPORT_TEST_LANE`, read by test/helpers/internet.ts and test/network.test.ts), and
 * network namespaces, bridges, data folders and databases carry a process id or a random id.
 */
const HEAVY = /helpers\/(server|driver|sandbox|browser|internet|runner)\.js|withDriver: true|node:child_process|gatewayEnv|GATEWAY_PLANS|SLEEP_PLANS/
const LANES = Math.max(1, Number(process.env.CLAWPORT_TEST_LANES ?? 3) || 3)
/** Host uids of lane i's sandboxes start at UID_BASE + i × UID_STRIDE. */
const UID_BASE = 200_000
const UID_STRIDE = 25_000

/** Seconds a file took in a recent run on a 2-core machine (the files over 15 s). */
const SECONDS: Record<string, number> = {
  'test/sleep.test.ts': 245,
  'test/replicas.test.ts': 115,
  'test/gateway.test.ts': 90,
  'test/swarm.test.ts': 100,
  'test/pool.test.ts': 86,
  'test/chat.test.ts': 69,
  'test/dashboard.browser.test.ts': 67,
  'test/replicas-use.test.ts': 64,
  'test/gateway-memory.test.ts': 61,
  'test/dashboard-work.browser.test.ts': 54,
  'test/runners.test.ts': 52,
  'test/dashboard-operations.browser.test.ts': 51,
  'test/runaway.test.ts': 51,
  'test/instances.test.ts': 51,
  'test/clients-chat.test.ts': 50,
  'test/fleet.test.ts': 50,
  'test/gateway-browser.test.ts': 47,
  'test/faults.test.ts': 42,
  'test/runaway-gateway.test.ts': 42,
  'test/runners-agent.test.ts': 41,
  'test/channels.test.ts': 38,
  'test/isolation.test.ts': 37,
  'test/dashboard-admin-users.browser.test.ts': 35,
  'test/automation-door.test.ts': 35,
  'test/restart-budget.test.ts': 34,
  'test/instance-metrics.test.ts': 32,
  'test/dashboard-events.browser.test.ts': 31,
  'test/automation-pipelines.test.ts': 23,
  'test/lifecycle-events.test.ts': 23,
  'test/network-allowlist.test.ts': 21,
  'test/cpu-quota.test.ts': 20,
  'test/network.test.ts': 19,
  'test/orphans.test.ts': 18,
  'test/dashboard-automation.browser.test.ts': 18,
  'test/cli-client.test.ts': 17,
  'test/dashboard-logs.browser.test.ts': 16,
}
const UNLISTED_SECONDS = 6

const files = readdirSync('test')
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/${f}`)
const heavy = files.filter((f) => HEAVY.test(readFileSync(f, 'utf8')))
const fast = files.filter((f) => !heavy.includes(f))

const lanes = Array.from({ length: LANES }, () => ({ files: [] as string[], seconds: 0 }))
const seconds = (f: string) => SECONDS[f] ?? UNLISTED_SECONDS
for (const f of [...heavy].sort((a, b) => seconds(b) - seconds(a) || a.localeCompare(b))) {
  const lane = lanes.reduce((least, l) => (l.seconds < least.seconds ? l : least))
  lane.files.push(f)
  lane.seconds += seconds(f)
}

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
      ...lanes.map((lane, i) => ({
        extends: true as const,
        test: {
          name: `lane-${i + 1}`,
          include: lane.files,
          fileParallelism: false,
          env: { CLAWPORT_UID_BASE: String(UID_BASE + i * UID_STRIDE), CLAWPORT_TEST_LANE: String(i) },
          sequence: { groupOrder: 1 },
        },
      })),
    ],
  },
})
