import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { childrenOf } from '../src/drivers/local/launch.js'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

/** Kills an instance's clawlet (inside its sandbox) and returns the sandbox pid it had. */
async function crash(s: TestServer, id: string): Promise<number> {
  const before = (await s.api('GET', `/api/instances/${id}/status`)).body
  const [init] = await childrenOf(before.sandbox.pid)
  const [clawlet] = await childrenOf(init as number)
  expect(readFileSync(`/proc/${clawlet}/cmdline`, 'utf8')).toContain('dist/clawlet/main.js')
  process.kill(clawlet as number, 'SIGKILL')
  // A call that finds it gone makes the server look now rather than at its next round.
  await s.api('POST', `/api/instances/${id}/terminal/exec`, { body: { command: 'true' } })
  return before.sandbox.pid
}

/** Waits until the instance is ready again on a new sandbox, or in `error`. */
async function settled(s: TestServer, id: string, oldPid: number): Promise<any> {
  return waitFor(
    `instance ${id} ready on a new sandbox, or in error`,
    async () => {
      const b = (await s.api('GET', `/api/instances/${id}/status`)).body
      if (b.status === 'error') return b
      return b.status === 'ready' && b.sandbox?.running && b.sandbox.pid !== oldPid && b
    },
    { timeoutMs: 60_000 },
  )
}

describe('the restart budget of a crashing instance', () => {
  const servers: TestServer[] = []
  afterAll(async () => {
    for (const s of servers) await s.destroy()
  })

  it('gives up after 3 restarts within the window, and a manual start gives it a fresh budget', async () => {
    const s = await startServer({ ...TEST_ENV, CLAWPORT_RESTART_WINDOW_MS: '120000' })
    servers.push(s)
    const { id } = await s.readyInstance()
    for (let i = 1; i <= 3; i++) expect((await settled(s, id, await crash(s, id))).status).toBe('ready')
    const gaveUp = await settled(s, id, await crash(s, id))
    expect(gaveUp.status).toBe('error')
    const row = (await s.api('GET', `/api/instances/${id}`)).body
    expect(row.error).toMatch(/gave up after 3 restarts within 120 s; start it again/)
    expect((await s.api('POST', `/api/instances/${id}/start`)).status).toBeLessThan(300)
    await s.waitStatus(id, 'ready')
    // The start cleared the count: the next crash is restarted again.
    expect((await settled(s, id, await crash(s, id))).status).toBe('ready')
  }, 120_000)

  it('forgets crashes older than the window', async () => {
    const s = await startServer({ ...TEST_ENV, CLAWPORT_RESTART_WINDOW_MS: '1500' })
    servers.push(s)
    const { id } = await s.readyInstance()
    // One crash more than the budget, each after the window of the one before.
    for (let i = 1; i <= 4; i++) {
      expect((await settled(s, id, await crash(s, id))).status).toBe('ready')
      await new Promise((r) => setTimeout(r, 1600))
    }
  }, 120_000)
})
