import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Config, loadConfig } from '../src/config.js'
import { createBus, type EventBus } from '../src/core/shared/index.js'
import { ClawletClient, waitForHealth } from '../src/door/clawlet/client.js'
import { GatewayClient } from '../src/door/clawlet/gateway-client.js'
import type { DoorHandler } from '../src/door/listen.js'
import type { InstanceDriver, InstanceSpec } from '../src/drivers/driver.js'
import { FleetDriver } from '../src/drivers/fleet/fleet-driver.js'
import { LocalDriver } from '../src/drivers/local/local-driver.js'
import { AppError } from '../src/errors.js'
import { createLogger } from '../src/log.js'
import type { Store } from '../src/store/index.js'
import { openPostgresStore } from '../src/store/postgres.js'
import { CONTROL_PORT } from '../src/wire/gateway.js'
import { SMALL } from './helpers/driver.js'
import { freshDatabase, havePostgres } from './helpers/postgres.js'
import { startRunner } from './helpers/runner.js'
import { buildOnce } from './helpers/sandbox.js'
import { TEST_SECRET_KEY, TestServer, tempDataDir } from './helpers/server.js'

/**
 * One contract, every driver: what core relies on of an InstanceDriver (provision, start,
 * inspect, endpoint, doors, logs, usage, stop, destroy, a second control plane's view), run
 * against the local driver and against the fleet driver as a server builds it, its instances
 * placed on a real `clawport runner` on this host. Instances have no network.
 */
interface Harness {
  driver: InstanceDriver
  /** A new instance's spec, placed where this driver runs it; destroyed at the end. */
  spec(): InstanceSpec
  /** Another driver on the same instances: a restarted control plane, or a second replica. */
  another(): InstanceDriver
  close(): Promise<void>
}

interface Implementation {
  name: string
  skip?: boolean
  open(): Promise<Harness>
}

const log = createLogger('silent')
const TOKEN = 'driver-contract-token-0123456789abcdef012345'

/**
 * Answers the instances' door calls with the path they arrived on: the handler given to
 * openDoor, and for a runner (which forwards its doors to the control plane) that control plane.
 */
const door: DoorHandler = (req, res) => {
  const body = JSON.stringify({ answered: req.url })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

const uidBase = () => 300_000 + Math.floor(Math.random() * 5000) * 100

/** A local driver on a fresh data folder; its specs get uids of their own. */
function localDriver(): { driver: LocalDriver; config: Config; dataDir: string } {
  const dataDir = tempDataDir('clawport-contract-')
  const config = loadConfig({}, { dataDir, driver: { uidBase: uidBase(), tmpSizeMb: 64, desktop: 'off' } })
  return { driver: new LocalDriver(config, log), config, dataDir }
}

function specs(uids: () => number, place: (id: string) => void = () => {}) {
  const ids: string[] = []
  // Ids as core makes them: runners route by UUID.
  const spec = (): InstanceSpec => {
    const id = randomUUID()
    ids.push(id)
    place(id)
    return { id, hostUid: uids(), resources: SMALL, network: 'off' }
  }
  return { ids, spec }
}

async function freePort(): Promise<number> {
  const s = http.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as AddressInfo
  await new Promise((resolve) => s.close(resolve))
  return port
}

const implementations: Implementation[] = [
  {
    name: 'local',
    async open() {
      const { driver, config, dataDir } = localDriver()
      let next = config.driver.uidBase
      const { ids, spec } = specs(() => ++next)
      return {
        driver,
        spec,
        another: () => new LocalDriver(config, log),
        async close() {
          for (const id of ids) await driver.destroy(id).catch(() => {})
          fs.rmSync(dataDir, { recursive: true, force: true })
        },
      }
    },
  },
  {
    name: 'fleet, on a runner',
    skip: !havePostgres(),
    async open() {
      const db = await freshDatabase('drivers')
      // Where the runner forwards its instances' door calls: the control plane's side of them.
      const controlPlane = http.createServer(door)
      await new Promise<void>((resolve) => controlPlane.listen(0, '127.0.0.1', resolve))
      const serverUrl = `http://127.0.0.1:${(controlPlane.address() as AddressInfo).port}`
      const runnerDir = tempDataDir('clawport-contract-runner-')
      const runnerUids = uidBase()
      const name = `contract-${process.pid}`
      const stores: Store[] = []
      const buses: EventBus[] = []
      let runnerProc: Awaited<ReturnType<typeof startRunner>>['proc'] | undefined
      const local = localDriver()
      const fleets: FleetDriver[] = []
      let runnerId = ''
      /** A fleet driver as a server (replica) builds it: this host's driver and the runners'. */
      const fleet = async () => {
        const config = loadConfig(
          { CLAWPORT_DATABASE_URL: db.url, CLAWPORT_SECRET_KEY: TEST_SECRET_KEY },
          { dataDir: local.dataDir },
        )
        const store = await openPostgresStore(db.url)
        const bus = await createBus(config.store, log)
        stores.push(store)
        buses.push(bus)
        const f = new FleetDriver(local.driver, store, bus, TOKEN, log)
        fleets.push(f)
        return f
      }
      const close = async () => {
        for (const f of fleets) f.close()
        if (runnerProc?.pid) {
          const exited = new Promise((resolve) => runnerProc?.once('exit', resolve))
          process.kill(-runnerProc.pid, 'SIGTERM')
          await exited
        }
        for (const b of buses) await b.close()
        for (const s of stores) await s.close()
        await new Promise((resolve) => controlPlane.close(resolve))
        // Whatever a failed check left on the runner's host goes with its folder.
        await new TestServer(runnerDir).destroy().catch(() => {})
        fs.rmSync(local.dataDir, { recursive: true, force: true })
        await db.drop()
      }
      try {
        const driver = await fleet()
        const started = await startRunner({
          server: serverUrl,
          name,
          listen: `127.0.0.1:${await freePort()}`,
          dataDir: runnerDir,
          env: {
            CLAWPORT_DATABASE_URL: db.url,
            CLAWPORT_RUNNER_TOKEN: TOKEN,
            CLAWPORT_UID_BASE: String(runnerUids),
            CLAWPORT_DESKTOP: 'off',
          },
        })
        runnerProc = started.proc
        runnerId = (await stores[0]?.runners.list())?.find((r) => r.name === name)?.id ?? ''
        expect(runnerId, started.output).not.toBe('')
        let next = runnerUids
        const placed: FleetDriver[] = [driver]
        const { ids, spec } = specs(
          () => ++next,
          (id) => {
            for (const f of placed) f.place(id, runnerId)
          },
        )
        const second = await fleet()
        placed.push(second)
        return {
          driver,
          spec,
          // Placed already: a replica learns an instance's runner from its row, and these have none.
          another: () => second,
          async close() {
            for (const id of ids) await driver.destroy(id).catch(() => {})
            await close()
          },
        }
      } catch (err) {
        await close()
        throw err
      }
    },
  },
]

/** Asks the instance's door from inside (its clawlet forwards 127.0.0.1:CONTROL_PORT to it). */
async function callDoor(c: ClawletClient): Promise<{ answered?: string } | null> {
  const r = await c.exec({
    command: `curl -sf -m 5 http://127.0.0.1:${CONTROL_PORT}/api/contract`,
    timeout_ms: 10_000,
  })
  return r.exit_code === 0 ? (JSON.parse(r.stdout) as { answered?: string }) : null
}

/** A call to an instance whose clawlet is not running fails as it does on this host. */
async function expectUnavailable(call: Promise<unknown>): Promise<void> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(AppError)
  const { status, code } = err as AppError
  expect({ status, code }).toEqual({ status: 503, code: 'instance_unavailable' })
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

for (const impl of implementations) {
  describe.skipIf(impl.skip)(`driver contract: ${impl.name}`, () => {
    let h: Harness
    let d: InstanceDriver
    let a: InstanceSpec
    const clients: ClawletClient[] = []
    /** A client that finds the instance through `driver.endpoint`, as core's clients do. */
    const clientOf = (driver: InstanceDriver, id: string) => {
      const c = new ClawletClient({ transport: () => driver.endpoint(id), label: id })
      clients.push(c)
      return c
    }

    beforeAll(async () => {
      buildOnce()
      h = await impl.open()
      d = h.driver
      a = h.spec()
    }, 90_000)
    afterAll(async () => {
      for (const c of clients) c.close()
      await h?.close()
    }, 60_000)

    it('checks the host once and says what it can do', async () => {
      const caps = await d.init()
      expect(['v1', 'v2', 'none']).toContain(caps.cgroup)
      expect(typeof caps.rootless).toBe('boolean')
      expect(typeof caps.diskQuota).toBe('boolean')
      expect(Array.isArray(caps.notes)).toBe(true)
      expect(await d.init()).toEqual(caps)
    })

    it('sees no sandbox for an instance it never started, and no clawlet at its endpoint', async () => {
      const never = h.spec()
      expect(await d.inspect(never.id)).toMatchObject({ running: false })
      await expectUnavailable(clientOf(d, never.id).health())
    })

    it('provisions idempotently and starts the clawlet at the transport it returns', async () => {
      await d.provision(a)
      await d.provision(a)
      expect(await d.inspect(a.id)).toMatchObject({ running: false })
      const transport = await d.start(a)
      const direct = new ClawletClient({ transport, label: a.id })
      clients.push(direct)
      const health = await waitForHealth(direct, 10_000)
      expect(health.ok).toBe(true)
      const state = await d.inspect(a.id)
      expect(state).toMatchObject({ running: true })
      expect(state.pid).toBeGreaterThan(1)
      expect(Number.isNaN(Date.parse(state.startedAt ?? ''))).toBe(false)
      // The endpoint leads to the same clawlet.
      expect((await clientOf(d, a.id).health()).pid).toBe(health.pid)
    })

    it('treats a start of a running instance as done', async () => {
      const before = await d.inspect(a.id)
      const { uptime_ms } = await clientOf(d, a.id).health()
      await d.start(a)
      expect((await d.inspect(a.id)).pid).toBe(before.pid)
      expect((await clientOf(d, a.id).health()).uptime_ms).toBeGreaterThanOrEqual(uptime_ms)
    })

    it('answers the instance on its door only while it is open', async () => {
      const c = clientOf(d, a.id)
      expect(await d.doorAlive(a.id)).toBe(false)
      expect(await callDoor(c)).toBeNull()
      await d.openDoor(a.id, a.hostUid, door)
      await d.openDoor(a.id, a.hostUid, door)
      expect(await d.doorAlive(a.id)).toBe(true)
      expect((await callDoor(c))?.answered).toMatch(/\/api\/contract$/)
      await d.closeDoor(a.id)
      await d.closeDoor(a.id)
      expect(await d.doorAlive(a.id)).toBe(false)
      expect(await callDoor(c)).toBeNull()
    })

    it('reads its logs and samples its usage within its limits', async () => {
      const chunk = await d.readLog?.(a.id, { source: 'clawlet', tail: 50 })
      expect(chunk?.lines.some((l) => l.includes('clawlet listening'))).toBe(true)
      expect(chunk?.cursor).not.toBeNull()
      const usage = await d.sampleResources?.(a.id)
      expect(usage?.at_ms).toBeGreaterThan(0)
      const cgroups = (await d.init()).cgroup !== 'none'
      if (cgroups) {
        expect(usage).toMatchObject({
          memory_limit_bytes: a.resources.memory_mb * 1024 * 1024,
          pids_limit: a.resources.pids_max,
        })
        expect(usage?.memory_bytes).toBeGreaterThan(0)
        expect(usage?.pids).toBeGreaterThan(0)
        expect(await d.oomKills?.(a.id)).toBe(0)
      }
    })

    it('is seen running by another control plane on the same instances', async () => {
      const other = h.another()
      const state = await other.inspect(a.id)
      expect(state).toMatchObject({ running: true, pid: (await d.inspect(a.id)).pid })
      expect((await clientOf(other, a.id).health()).ok).toBe(true)
    })

    it('stops with SIGTERM first, keeps the workspace, and starts again', async () => {
      const c = clientOf(d, a.id)
      expect((await c.exec({ command: 'echo kept > kept.txt', timeout_ms: 5000 })).exit_code).toBe(0)
      const before = await d.inspect(a.id)
      await d.stop(a.id)
      expect(await d.inspect(a.id)).toEqual({ running: false, reason: 'stopped' })
      await expectUnavailable(c.health())
      await expectUnavailable(c.openSocket('/v1/terminal/ws'))
      await expectUnavailable(new GatewayClient(() => d.endpoint(a.id), a.id).state())
      expect(await d.sampleResources?.(a.id)).toBeNull()
      // The clawlet saw the SIGTERM: it said so on its way out.
      const chunk = await d.readLog?.(a.id, { source: 'clawlet', tail: 50 })
      expect(chunk?.lines.some((l) => l.includes('clawlet stopping'))).toBe(true)
      await d.stop(a.id)
      await d.start(a)
      await waitForHealth(c, 10_000)
      expect((await d.inspect(a.id)).pid).not.toBe(before.pid)
      expect((await c.exec({ command: 'cat kept.txt', timeout_ms: 5000 })).stdout).toBe('kept\n')
    })

    it('says how a sandbox that ended by itself ended', async () => {
      const c = clientOf(d, a.id)
      const { pid } = await c.health()
      await c.exec({ command: `(sleep 0.2; kill -KILL ${pid}) >/dev/null 2>&1 &`, timeout_ms: 5000 })
      await until('the sandbox to end', async () => !(await d.inspect(a.id)).running)
      expect(await d.inspect(a.id)).toMatchObject({
        running: false,
        reason: 'killed by SIGKILL (exit code 137)',
        exitCode: 137,
        signal: 'SIGKILL',
        oomKilled: false,
      })
    })

    it('destroys every trace of an instance, its workspace too', async () => {
      await d.destroy(a.id)
      expect(await d.inspect(a.id)).toMatchObject({ running: false })
      expect((await d.readLog?.(a.id, { source: 'clawlet', tail: 50 }))?.lines ?? []).toEqual([])
      await d.destroy(a.id)
      // The same id again is a new instance: nothing of the old one is left.
      await d.provision(a)
      await d.start(a)
      const c = clientOf(d, a.id)
      await waitForHealth(c, 10_000)
      const listed = await c.exec({ command: 'ls -A', timeout_ms: 5000 })
      expect(listed.exit_code).toBe(0)
      expect(listed.stdout).not.toContain('kept.txt')
      await d.destroy(a.id)
      expect(await d.inspect(a.id)).toMatchObject({ running: false })
    })

    it('hands out host uids that are not taken', () => {
      const first = d.allocateUid([])
      expect(Number.isInteger(first)).toBe(true)
      const second = d.allocateUid([first])
      expect(second).not.toBe(first)
      expect([first, second]).not.toContain(d.allocateUid([first, second]))
    })
  })
}
