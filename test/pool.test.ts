import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { planPools } from '../src/core/pool-plans.js'
import { asUser } from '../src/core/scope.js'
import { inProcess } from './helpers/app.js'
import { TEST_ENV, TEST_PLANS } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

type Plan = { name: string; instance_limit: number; disk_mb?: number; network?: string; pool?: number }
/** The test plans without a network: warm instances here never reach beyond this machine. */
const OFFLINE: Plan[] = (JSON.parse(TEST_PLANS) as Plan[]).filter((p) => p.network === 'off')
const PLANS = JSON.stringify(OFFLINE)
/** Every plan that can have instances: each gets a pool by default. */
const POOLED = OFFLINE.filter((p) => p.instance_limit > 0).map((p) => p.name)

type PoolBody = {
  ready: number
  plans: Array<{ plan: string; size: number; ready: number; network: string }>
}

/** Waits until every plan's pool has `want` ready instances. */
async function poolReady(s: TestServer, want = 1, timeoutMs = 120_000): Promise<PoolBody> {
  return waitFor(
    () => `${want} ready in every plan's pool`,
    async () => {
      const body = (await s.api('GET', '/api/admin/pool')).body as PoolBody
      return body.plans.every((p) => p.ready >= Math.min(want, p.size)) ? body : undefined
    },
    { timeoutMs, intervalMs: 50 },
  )
}

describe('the warm pool', () => {
  let s: TestServer

  beforeAll(async () => {
    s = await startServer({ ...TEST_ENV, CLAWPORT_PLANS: PLANS, CLAWPORT_POOL_SIZE: '1' })
  })
  afterAll(() => s?.destroy())

  it('keeps a warm instance of every plan, hands each out ready at once, then refills', async () => {
    const status = await poolReady(s)
    expect(status.plans.map((p) => [p.plan, p.size, p.ready, p.network])).toEqual(
      POOLED.map((name) => [name, 1, 1, 'off']),
    )
    expect(status).toMatchObject({ size: POOLED.length, ready: POOLED.length })
    // With no runner registered, every warm instance is this server's own.
    expect((status as unknown as { runners: unknown }).runners).toEqual([
      { runner_id: null, runner: 'local', ready: POOLED.length, warming: 0 },
    ])
    expect((await s.api('GET', '/api/instances')).body).toEqual([])

    // The administrator is on `team`: that plan last, so that its cold create below follows at once.
    for (const plan of [...POOLED.filter((p) => p !== 'team'), 'team']) {
      const key = plan === 'team' ? s.adminKey : await s.user(`${plan}-user@example.com`, plan)
      const res = await s.api('POST', '/api/instances', { key, body: { name: `instant ${plan}` } })
      expect(res.status).toBe(201)
      const disk = OFFLINE.find((p) => p.name === plan)?.disk_mb
      expect(res.body).toMatchObject({
        status: 'ready',
        name: `instant ${plan}`,
        resources: { disk_mb: disk },
      })
      const id = res.body.id as string
      expect((await s.api('GET', '/api/instances', { key })).body.map((i: { id: string }) => i.id)).toEqual([
        id,
      ])
      // A fresh workspace: only the clawport skill every instance gets.
      expect((await s.exec(id, 'ls -A /workspace', {}, key)).stdout).toBe('skills\n')
      expect((await s.api('GET', `/api/instances/${id}/status`, { key })).body).toMatchObject({ ready: true })
      expect((await s.api('GET', '/api/me', { key })).body.usage.instances).toBe(1)
    }

    // While the pool refills, the next create starts cold.
    const cold = await s.api('POST', '/api/instances')
    expect(cold.body.status).toBe('provisioning')
    await s.waitStatus(cold.body.id, 'ready')
    await poolReady(s)
  })

  it('hands one warm instance to one create when two ask at once', async () => {
    await poolReady(s)
    const key = await s.user('twice@example.com', 'pro')
    const both = await Promise.all([1, 2].map(() => s.api('POST', '/api/instances', { key })))
    expect(both.map((r) => r.status)).toEqual([201, 201])
    expect(both.map((r) => r.body.status).sort()).toEqual(['provisioning', 'ready'])
    expect(new Set(both.map((r) => r.body.id)).size).toBe(2)
    for (const r of both) await s.waitStatus(r.body.id, 'ready', key)
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
    const plans = JSON.parse(PLANS) as Plan[]
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
      s.env.CLAWPORT_PLANS = PLANS
    }
  })
})

describe('filling the pool', () => {
  it.each([1, 2])(
    'boots at most CLAWPORT_BOOT_CONCURRENCY (%i) pooled instances at a time',
    async (n) => {
      const p = await inProcess({
        ...TEST_ENV,
        CLAWPORT_PLANS: PLANS,
        CLAWPORT_POOL_SIZE: '1',
        CLAWPORT_BOOT_CONCURRENCY: String(n),
      })
      try {
        const booting = new Set<string>()
        let most = 0
        p.services.lifecycle.onTransition((t) => {
          if (t.from === null) booting.add(t.instanceId)
          else if (t.to === 'ready' || t.to === 'error') booting.delete(t.instanceId)
          most = Math.max(most, booting.size)
        })
        await p.services.pool.start()
        const full = await waitFor(
          'every pooled plan ready',
          async () => {
            const st = await p.services.pool.status()
            return st.ready === POOLED.length ? st : undefined
          },
          { timeoutMs: 120_000 },
        )
        expect(full.plans.map((x) => x.ready)).toEqual(POOLED.map(() => 1))
        expect(most).toBe(n)
      } finally {
        p.services.pool.close()
        // The pool may insert one more while closing: sweep until nothing is left.
        for (let round = 0; round < 5; round++) {
          const rows = await p.services.store.instances.listAll()
          if (!rows.length) break
          for (const row of rows)
            await p.services.instances.remove(asUser(row.user_id), row.id).catch(() => {})
        }
        await p.close()
      }
    },
    180_000,
  )

  it('gives every plan that can have instances a pool, as far as the memory budget goes', () => {
    const sizes = (env: Record<string, string>) =>
      planPools(loadConfig({ ...TEST_ENV, CLAWPORT_PLANS: PLANS, ...env })).map((x) => [x.plan.name, x.size])
    // Plans with the most instances first: team (10), then pro (3), each counted at 512 MB.
    expect(sizes({ CLAWPORT_POOL_MEMORY_MB: '1100' })).toEqual([
      ['pro', 1],
      ['solo', 0],
      ['tiny', 0],
      ['team', 1],
    ])
    expect(sizes({ CLAWPORT_POOL_MEMORY_MB: '100000', CLAWPORT_POOL_SIZE: '2' })).toEqual(
      POOLED.map((name) => [name, 2]),
    )
    // A plan's own size is kept whatever the budget, and comes out of it first: 464 MB are left.
    const own = JSON.stringify(OFFLINE.map((p) => (p.name === 'solo' ? { ...p, pool: 3 } : p)))
    expect(sizes({ CLAWPORT_PLANS: own, CLAWPORT_POOL_MEMORY_MB: '2000' })).toEqual([
      ['pro', 0],
      ['solo', 3],
      ['tiny', 1],
      ['team', 0],
    ])
    expect(sizes({ CLAWPORT_POOL_PLAN: 'tiny' })).toEqual([['tiny', 1]])
    expect(sizes({ CLAWPORT_POOL_SIZE: '0' })).toEqual(POOLED.map((name) => [name, 0]))
  })
})
