import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatewayEnv } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

/** A runaway kill ends the OpenClaw gateway with the rest of the workload; its supervisor starts it again. */
describe('a runaway kill and the gateway', () => {
  let s: TestServer
  let id: string

  beforeAll(async () => {
    // No turn is taken: the model upstream is never called.
    s = await startServer(gatewayEnv('http://127.0.0.1:9/v1', 'sk-test'))
    id = (await s.readyInstance(undefined, {}, 120_000)).id
  }, 150_000)
  afterAll(() => s?.destroy())

  const gateway = async () =>
    (await s.api('GET', `/api/instances/${id}/status`)).body.gateway as { status: string; restarts: number }
  async function until(ok: (g: { status: string; restarts: number }) => boolean, timeoutMs: number) {
    let g: { status: string; restarts: number } | undefined
    return waitFor(
      () => `the gateway, now ${JSON.stringify(g)}`,
      async () => {
        g = await gateway()
        return ok(g) && g
      },
      { timeoutMs, intervalMs: 1000 },
    )
  }

  it('runs in the workload, is ended with a fork bomb and comes back ready', async () => {
    await until((g) => g.status === 'ready', 120_000)
    const where = await s.exec(id, 'cat /proc/$(pgrep -f "openclaw.mjs gateway" | head -1)/cgroup')
    expect(where.stdout).toMatch(new RegExp(`/clawport/${id}/workload$`, 'm'))
    await s.exec(id, "bash -c 'f() { while :; do f & done; }; f' >/dev/null 2>&1 &")
    const kill = await waitFor(
      'a runaway_processes_killed event',
      async () => {
        const list = (await s.api('GET', `/api/instances/${id}/events?after=0`)).body as Array<{
          type: string
          data: Record<string, unknown>
        }>
        return list.find((e) => e.type === 'runaway_processes_killed')
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    )
    expect(kill.data.reason).toBe('pids_limit')
    const back = await until((g) => g.status === 'ready' && g.restarts >= 1, 150_000)
    expect(back.restarts).toBeGreaterThanOrEqual(1)
    expect((await s.exec(id, 'echo fine')).stdout).toBe('fine\n')
  }, 300_000)
})
