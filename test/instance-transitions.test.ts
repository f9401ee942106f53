import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InstanceTransition } from '../src/core/instances.js'
import { asUser } from '../src/core/scope.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'

describe('instance transitions', () => {
  let p: InProcess
  let key: string
  const seen: InstanceTransition[] = []

  beforeAll(async () => {
    p = await inProcess({ ...TEST_ENV, CLAWPORT_POOL_SIZE: '0' })
    key = await p.user('moves@example.com', 'pro')
    // A listener that throws, sync or async, must not stop the state machine nor the others.
    p.services.lifecycle.onTransition(() => {
      throw new Error('listener broke')
    })
    p.services.lifecycle.onTransition(async () => {
      throw new Error('async listener broke')
    })
    p.services.lifecycle.onTransition((t) => seen.push(t))
  })

  afterAll(async () => {
    if (!p) return
    for (const row of await p.services.store.instances.listAll())
      await p.services.instances.remove(asUser(row.user_id), row.id).catch(() => {})
    await p.close()
  })

  const status = (id: string, want: string) => p.waitStatus(key, id, want)

  it('reports every stored status change, in order, through throwing listeners', async () => {
    const created = await p.inject('POST', '/api/instances', key, { name: 'moves' })
    expect(created.status).toBe(201)
    const id = created.body.id as string
    await status(id, 'ready')
    expect((await p.inject('POST', `/api/instances/${id}/shutdown`, key)).status).toBe(202)
    await status(id, 'stopped')
    expect((await p.inject('POST', `/api/instances/${id}/start`, key)).status).toBe(202)
    await status(id, 'ready')
    expect((await p.inject('DELETE', `/api/instances/${id}`, key)).status).toBe(204)

    const mine = seen.filter((t) => t.instanceId === id)
    expect(mine.map((t) => [t.from, t.to])).toEqual([
      [null, 'provisioning'],
      ['provisioning', 'ready'],
      ['ready', 'stopping'],
      ['stopping', 'stopped'],
      ['stopped', 'starting'],
      ['starting', 'ready'],
      ['ready', 'deleting'],
    ])
    expect(mine.every((t) => t.reason === null && !Number.isNaN(Date.parse(t.at)))).toBe(true)
  })

  it.runIf(process.getuid?.() === 0)('gives the reason when a boot fails', async () => {
    const created = await p.inject('POST', '/api/instances', key, { name: 'fails' })
    const id = created.body.id as string
    await status(id, 'ready')
    // A stopped instance whose sandbox the driver refuses to start: a system uid.
    expect((await p.inject('POST', `/api/instances/${id}/shutdown`, key)).status).toBe(202)
    await status(id, 'stopped')
    await p.services.store.instances.update(id, { host_uid: 5 })
    await p.inject('POST', `/api/instances/${id}/start`, key)
    const failed = await status(id, 'error')
    const last = seen.filter((t) => t.instanceId === id).at(-1)
    expect(last).toMatchObject({ from: 'starting', to: 'error', reason: failed.error })
    expect(failed.error).toMatch(/refusing host uid 5 /)
  })
})
