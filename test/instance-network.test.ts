import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { asUser } from '../src/core/scope.js'
import { POOL_USER_ID } from '../src/core/warm-pool.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { waitFor } from './helpers/wait.js'

// The pool warms instances of `net` (the one test plan with a network), so that a create
// asking for another network than the pool's can be seen to start cold.
describe("an instance's network mode", () => {
  let p: InProcess
  let netKey: string
  let proKey: string

  const status = (key: string, id: string, want: string) => p.waitStatus(key, id, want)
  const poolReady = () =>
    waitFor('a ready pooled instance', async () => (await p.services.pool.status()).ready >= 1, {
      timeoutMs: 60_000,
    })
  const pooledIds = async () => (await p.services.store.instances.listByUser(POOL_USER_ID)).map((r) => r.id)

  beforeAll(async () => {
    p = await inProcess({ ...TEST_ENV, CLAWPORT_POOL_SIZE: '1', CLAWPORT_POOL_PLAN: 'net' })
    netKey = await p.user('net@example.com', 'net')
    proKey = await p.user('pro@example.com', 'pro')
    await p.services.pool.start()
  })

  afterAll(async () => {
    if (!p) return
    p.services.pool.close()
    // The pool may insert one more while closing: sweep until nothing is left.
    for (let round = 0; round < 5; round++) {
      const rows = await p.services.store.instances.listAll()
      if (!rows.length) break
      for (const row of rows) await p.services.instances.remove(asUser(row.user_id), row.id).catch(() => {})
    }
    await p.close()
  })

  it('refuses a network beyond the plan with 422 network_not_allowed, and creates nothing', async () => {
    const res = await p.inject('POST', '/api/instances', proKey, { network: 'public' })
    expect(res.status).toBe(422)
    expect(res.body).toMatchObject({ code: 'network_not_allowed', status: 422, details: { plan: 'pro' } })
    expect((await p.inject('GET', '/api/instances', proKey)).body).toEqual([])

    const bad = await p.inject('POST', '/api/instances', netKey, { network: 'everything' })
    expect(bad.status).toBe(422)
    expect(bad.body.code).toBe('validation_failed')
  })

  it("gives an instance its plan's network when the create names none, and shows it", async () => {
    await poolReady()
    const [pooled] = await pooledIds()
    const res = await p.inject('POST', '/api/instances', netKey, { name: 'default' })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ network: 'public', status: 'ready' })
    // The pool's instance has the plan's network, so this create took it.
    expect(res.body.id).toBe(pooled)
    const got = await p.inject('GET', `/api/instances/${res.body.id}`, netKey)
    expect(got.body.network).toBe('public')
    expect((await p.services.store.instances.get(res.body.id))?.network).toBe('public')
  })

  it("starts cold when the create asks for another network than the pool's, and keeps the one asked for", async () => {
    await poolReady()
    const [pooled] = await pooledIds()
    const res = await p.inject('POST', '/api/instances', netKey, { name: 'offline', network: 'off' })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ network: 'off', status: 'provisioning' })
    expect(res.body.id).not.toBe(pooled)
    expect(await pooledIds()).toEqual([pooled])
    expect((await p.services.pool.status()).ready).toBe(1)
    const ready = await status(netKey, res.body.id, 'ready')
    expect(ready.network).toBe('off')
  })

  it('changes the network only while the instance is stopped, and only within its plan', async () => {
    const list = (await p.inject('GET', '/api/instances', netKey)).body as Array<{ id: string; name: string }>
    const id = list.find((i) => i.name === 'offline')?.id as string
    await status(netKey, id, 'ready')

    const running = await p.inject('PATCH', `/api/instances/${id}`, netKey, { network: 'public' })
    expect(running.status).toBe(409)
    expect(running.body.code).toBe('invalid_state')
    expect((await p.inject('GET', `/api/instances/${id}`, netKey)).body.network).toBe('off')

    expect((await p.inject('POST', `/api/instances/${id}/shutdown`, netKey)).status).toBe(202)
    await status(netKey, id, 'stopped')
    const changed = await p.inject('PATCH', `/api/instances/${id}`, netKey, { network: 'public' })
    expect(changed.status).toBe(200)
    expect(changed.body).toMatchObject({ id, network: 'public', status: 'stopped' })
    expect((await p.inject('GET', `/api/instances/${id}`, netKey)).body.network).toBe('public')

    // Someone else's instance is not found, whatever its state.
    const foreign = await p.inject('PATCH', `/api/instances/${id}`, proKey, { network: 'off' })
    expect(foreign.status).toBe(404)
  })

  it("refuses to change a stopped instance's network beyond its plan", async () => {
    const res = await p.inject('POST', '/api/instances', proKey, {})
    expect(res.status).toBe(201)
    expect(res.body.network).toBe('off')
    await status(proKey, res.body.id, 'ready')
    await p.inject('POST', `/api/instances/${res.body.id}/shutdown`, proKey)
    await status(proKey, res.body.id, 'stopped')
    const changed = await p.inject('PATCH', `/api/instances/${res.body.id}`, proKey, { network: 'public' })
    expect(changed.status).toBe(422)
    expect(changed.body.code).toBe('network_not_allowed')
    expect((await p.services.store.instances.get(res.body.id))?.network).toBe('off')
  })

  it("takes the network away at the next start when the operator's plan no longer allows it", async () => {
    const list = (await p.inject('GET', '/api/instances', netKey)).body as Array<{ id: string; name: string }>
    const id = list.find((i) => i.name === 'default')?.id as string
    // What a restart with CLAWPORT_PLANS changed does to the stored plan.
    const net = p.services.config.plans.find((plan) => plan.name === 'net')
    if (!net) throw new Error('no net plan')
    await p.services.store.plans.sync([{ ...net, network: 'off' }])
    await p.inject('POST', `/api/instances/${id}/shutdown`, netKey)
    await status(netKey, id, 'stopped')
    expect((await p.inject('GET', `/api/instances/${id}`, netKey)).body.network).toBe('public')
    await p.inject('POST', `/api/instances/${id}/start`, netKey)
    expect((await status(netKey, id, 'ready')).network).toBe('off')
  })
})
