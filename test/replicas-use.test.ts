import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { havePostgres } from './helpers/postgres.js'
import { replicas, teardown } from './helpers/replicas.js'
import { buildOnce } from './helpers/sandbox.js'
import type { TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'
import { Term } from './helpers/ws.js'

/**
 * Two real `clawport serve` replicas on one PostgreSQL and one data folder, gateway off: the
 * host's leader (the first started) sweeps idle instances with the use either replica saw, and
 * takes over the door of an instance whose replica died. Sleeping needs no gateway: the status
 * says `sleeping` and the desktop stops.
 */
const pg = havePostgres()

const IDLE_MS = 8_000
const PLANS = JSON.stringify([
  { name: 'free', instance_limit: 0, network: 'off' },
  {
    name: 'nap',
    instance_limit: 3,
    memory_mb: 512,
    cpus: 1,
    pids_max: 256,
    disk_mb: 256,
    network: 'off',
    idle_sleep_minutes: IDLE_MS / 60_000,
  },
])

/** A call from inside the instance to the Clawport API through its door; prints the status first. */
const insideGet = (p: string) =>
  `node -e 'fetch(process.env.CLAWPORT_API_URL + ${JSON.stringify(p)}).then(async r => console.log(r.status, await r.text())).catch(e => console.log("failed", e.cause?.code ?? e.message))'`

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.skipIf(!pg)('replicas on one PostgreSQL: use and doors across replicas', () => {
  let servers: TestServer[] = []
  let key: string
  // The first replica started leads the host; the second only serves.
  const leader = () => servers[0] as TestServer
  const other = () => servers[1] as TestServer
  const status = async (id: string) =>
    (await leader().api('GET', `/api/instances/${id}`, { key })).body.status

  beforeAll(async () => {
    buildOnce()
    servers = await replicas(2, { ...TEST_ENV, CLAWPORT_PLANS: PLANS, CLAWPORT_LOG_LEVEL: 'info' })
    key = await leader().user('use@example.com', 'nap')
  }, 180_000)
  afterAll(() => teardown(servers))

  it('keeps awake an instance used only through the other replica, and sleeps it once left alone', async () => {
    const { id } = await other().readyInstance(key, {}, 120_000)
    // API calls on the other replica, a few seconds apart, for twice the idle period.
    const callsUntil = Date.now() + 2 * IDLE_MS
    while (Date.now() < callsUntil) {
      expect((await other().exec(id, 'true', {}, key)).exit_code).toBe(0)
      expect(await status(id)).toBe('ready')
      await sleep(3_000)
    }
    // Then a terminal open on the other replica, and nothing else, for as long again.
    const ticket = (await other().api('POST', `/api/instances/${id}/ws-ticket`, { key })).body.ticket
    const term = await Term.open(
      `${other().url.replace(/^http/, 'ws')}/api/instances/${id}/terminal/ws?ticket=${ticket}`,
    )
    const openUntil = Date.now() + 2 * IDLE_MS
    while (Date.now() < openUntil) {
      expect(await status(id)).toBe('ready')
      await sleep(2_000)
    }
    term.type('echo still-here\n')
    await term.waitOutput(/still-here\r\n/)
    await term.close()
    const left = Date.now()
    await leader().waitStatus(id, 'sleeping', key, 4 * IDLE_MS)
    // Not before its idle period was over (give or take a sweep, a quarter of it).
    expect(Date.now() - left).toBeGreaterThan(IDLE_MS / 2)
  }, 240_000)

  it('has the leader re-open the door of an instance whose replica was killed', async () => {
    const { id } = await other().readyInstance(key, {}, 120_000)
    // The door is the other replica's: it booted the instance.
    const before = await leader().exec(id, insideGet(`/instances/${id}`), {}, key)
    expect(before.stdout).toMatch(/^200 /)
    await other().kill9()
    const after = await waitFor(
      'the door answering through the leader',
      async () => {
        const r = await leader().exec(id, insideGet(`/instances/${id}`), {}, key)
        return r.stdout.startsWith('200 ') ? r : undefined
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    expect(JSON.parse(after.stdout.slice(4))).toMatchObject({ id })
    expect(leader().output).toMatch(/instance door taken over/)
  }, 240_000)
})
