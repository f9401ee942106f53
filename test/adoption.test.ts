import { existsSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { childrenOf } from '../src/drivers/local/launch.js'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'
import { Term } from './helpers/ws.js'

describe('instances outlive the server', () => {
  let s: TestServer

  beforeAll(async () => {
    s = await startServer(TEST_ENV)
  })
  afterAll(() => s?.destroy())

  it('keeps instances running through kill -9 of the server and re-adopts them', async () => {
    const { id } = await s.readyInstance()
    await s.exec(id, 'echo before > state.txt; nohup sleep 900 >/dev/null 2>&1 & echo $! > sleeper.pid')
    const sleeper = (await s.exec(id, 'cat sleeper.pid')).stdout.trim()
    const stopped = await s.readyInstance()
    await s.api('POST', `/api/instances/${stopped.id}/shutdown`)
    await s.waitStatus(stopped.id, 'stopped')

    await s.kill9()
    await s.start()

    const status = await s.api('GET', `/api/instances/${id}/status`)
    expect(status.body).toMatchObject({ status: 'ready', sandbox: { running: true }, clawlet: { ok: true } })
    expect((await s.exec(id, 'cat state.txt')).stdout).toBe('before\n')
    const alive = await s.exec(id, `kill -0 ${sleeper} && echo alive`)
    expect(alive.stdout).toBe('alive\n')
    expect((await s.api('GET', `/api/instances/${stopped.id}`)).body.status).toBe('stopped')
  })

  it('restarts an instance that should run but whose sandbox died while the server was down', async () => {
    const { id } = await s.readyInstance()
    await s.exec(id, 'echo durable > keep.txt')
    await s.kill9()
    // Kill the sandbox behind the server's back, the way a host OOM or a crash would.
    const { LocalDriver } = await import('../src/drivers/local/local-driver.js')
    const { loadConfig } = await import('../src/config.js')
    const { createLogger } = await import('../src/log.js')
    const driver = new LocalDriver(
      loadConfig({ ...TEST_ENV, CLAWPORT_DATA_DIR: s.dataDir }),
      createLogger('silent'),
    )
    await driver.stop(id, 0)
    expect((await driver.inspect(id)).running).toBe(false)
    await s.start()
    await s.waitStatus(id, 'ready')
    expect((await s.exec(id, 'cat keep.txt')).stdout).toBe('durable\n')
  })

  it('restarts an instance whose clawlet is killed with SIGKILL while the server runs', async () => {
    const { id } = await s.readyInstance()
    await s.exec(id, 'echo kept > survivor.txt')
    const before = await s.api('GET', `/api/instances/${id}/status`)
    const term = await Term.open(`${s.url.replace(/^http/, 'ws')}/api/instances/${id}/terminal/ws`, {
      authorization: `Bearer ${s.adminKey}`,
    })
    // The sandbox's monitor (bwrap) -> the namespace's init, which the desktop's processes would
    // otherwise keep alive -> the clawlet.
    const [init] = await childrenOf(before.body.sandbox.pid)
    const [clawlet] = await childrenOf(init as number)
    expect(clawlet).toBeGreaterThan(0)
    expect(readFileSync(`/proc/${clawlet}/cmdline`, 'utf8')).toContain('dist/clawlet/main.js')
    process.kill(clawlet as number, 'SIGKILL')

    // The open terminal is told the instance was lost; the monitor brings the instance back.
    expect((await term.waitClose()).code).toBe(1011)
    const status = await waitFor(
      'the instance ready on a new sandbox',
      async () => {
        const res = await s.api('GET', `/api/instances/${id}/status`)
        const fresh = res.body.sandbox.running && res.body.sandbox.pid !== before.body.sandbox.pid
        return res.body.status === 'ready' && fresh && res
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    expect(status.body).toMatchObject({ status: 'ready', sandbox: { running: true }, clawlet: { ok: true } })
    expect((await s.exec(id, 'cat survivor.txt')).stdout).toBe('kept\n')
    // Gone, or a zombie left to the host's pid 1 (which may not reap it): never still running.
    const state = existsSync(`/proc/${init}`)
      ? /^State:\s+(\S)/m.exec(readFileSync(`/proc/${init}/status`, 'utf8'))?.[1]
      : 'gone'
    expect(['gone', 'Z']).toContain(state)
  })
})
