import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'

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
})
