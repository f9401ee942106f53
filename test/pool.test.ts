import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV, TEST_PLANS } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'

async function poolReady(s: TestServer, want = 1, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const res = await s.api('GET', '/api/admin/pool')
    if (res.body.ready >= want) return res.body
    if (Date.now() > deadline) throw new Error(`pool never filled: ${JSON.stringify(res.body)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('the warm pool', () => {
  let s: TestServer

  beforeAll(async () => {
    s = await startServer({ ...TEST_ENV, CLAWPORT_POOL_SIZE: '1' })
  })
  afterAll(() => s?.destroy())

  it('hands out a ready instance at once, then refills', async () => {
    const status = await poolReady(s)
    expect(status).toMatchObject({ size: 1, plan: 'team', ready: 1 })
    expect((await s.api('GET', '/api/instances')).body).toEqual([])

    const t = performance.now()
    const res = await s.api('POST', '/api/instances', { body: { name: 'instant' } })
    const ms = performance.now() - t
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ status: 'ready', name: 'instant' })
    expect(ms).toBeGreaterThan(0)
    const id = res.body.id as string
    expect((await s.api('GET', '/api/instances')).body.map((i: { id: string }) => i.id)).toEqual([id])
    // A fresh workspace: only the clawport skill every instance gets.
    expect((await s.exec(id, 'ls -A /workspace')).stdout).toBe('skills\n')
    expect((await s.api('GET', `/api/instances/${id}/status`)).body).toMatchObject({ ready: true })
    expect((await s.api('GET', '/api/me')).body.usage.instances).toBe(1)

    // While the pool refills, the next create starts cold.
    const cold = await s.api('POST', '/api/instances')
    expect(cold.body.status).toBe('provisioning')
    await s.waitStatus(cold.body.id, 'ready')
    await poolReady(s)
  })

  it('starts cold for a plan whose resources differ from the pool', async () => {
    await poolReady(s)
    const key = await s.user('solo-user@example.com', 'solo')
    const res = await s.api('POST', '/api/instances', { key })
    expect(res.status).toBe(201)
    expect(res.body.status).toBe('provisioning')
    expect(res.body.resources.disk_mb).toBe(128)
    await s.waitStatus(res.body.id, 'ready', key)
    expect((await s.api('GET', '/api/admin/pool')).body.ready).toBe(1)
  })

  it('is only for administrators to inspect, and never visible to users', async () => {
    const key = await s.user('plain@example.com', 'pro')
    const res = await s.api('GET', '/api/admin/pool', { key })
    expect(res.status).toBe(403)
    expect(res.body.code).toBe('admin_required')
    expect((await s.api('GET', '/api/instances', { key })).body).toEqual([])
  })

  it("replaces a warm instance that no longer has its plan's resources after the plan changed", async () => {
    await poolReady(s)
    const plans = JSON.parse(TEST_PLANS) as Array<{ name: string; disk_mb?: number }>
    const team = plans.find((p) => p.name === 'team')
    if (team) team.disk_mb = 640
    await s.stop()
    s.env.CLAWPORT_PLANS = JSON.stringify(plans)
    try {
      await s.start()
      // The old warm instance (512 MB) no longer counts; one of the plan as it is now replaces it.
      await poolReady(s)
      const res = await s.api('POST', '/api/instances', { body: { name: 'after the change' } })
      expect(res.status).toBe(201)
      expect(res.body).toMatchObject({ status: 'ready', resources: { disk_mb: 640 } })
    } finally {
      s.env.CLAWPORT_PLANS = TEST_PLANS
    }
  })
})
