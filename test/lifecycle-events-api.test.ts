import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EVENTS_KEPT_PER_INSTANCE } from '../src/core/events/event-service.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_PLANS } from './helpers/plans.js'
import { insertInstanceRow } from './helpers/rows.js'
import { SseReader } from './helpers/sse.js'

describe('lifecycle events and webhooks through the API', () => {
  let t: InProcess
  let open: InProcess
  let url: string
  let alice: string
  let bob: string
  let aliceId: string
  let id: string

  beforeAll(async () => {
    t = await inProcess({ CLAWPORT_PLANS: TEST_PLANS, CLAWPORT_GATEWAY: 'off' })
    open = await inProcess({ CLAWPORT_PLANS: TEST_PLANS, CLAWPORT_MODEL_PRIVATE_URLS: 'allow' })
    url = await t.app.listen({ port: 0, host: '127.0.0.1' })
    alice = await t.user('alice@example.com', 'team')
    bob = await t.user('bob@example.com', 'team')
    aliceId = (await t.services.accounts.userByEmail('alice@example.com')).id
    id = await insertInstanceRow(t.services.store, aliceId)
  })
  afterAll(async () => {
    await t?.close()
    await open?.close()
  })

  it('serves recorded events after a cursor, oldest first, to the owner only', async () => {
    const { events } = t.services
    await events.record(id, 'starting')
    await events.record(id, 'crashed', {
      reason: 'killed by SIGKILL',
      data: { exit_code: 137, signal: 'SIGKILL' },
    })
    const all = await t.inject('GET', `/api/instances/${id}/events`, alice)
    expect(all.status).toBe(200)
    expect(all.body.map((e: { type: string }) => e.type)).toEqual(['starting', 'crashed'])
    expect(all.body[1]).toMatchObject({
      instance_id: id,
      reason: 'killed by SIGKILL',
      data: { exit_code: 137 },
    })
    const after = await t.inject('GET', `/api/instances/${id}/events?after=${all.body[0].cursor}`, alice)
    expect(after.body.map((e: { type: string }) => e.type)).toEqual(['crashed'])
    const foreign = await t.inject('GET', `/api/instances/${id}/events`, bob)
    expect(foreign.status).toBe(404)
    expect(foreign.body.code).toBe('instance_not_found')
    expect((await t.inject('GET', `/api/instances/${id}/events?stream=true`, bob)).status).toBe(404)
    expect(
      (await t.inject('GET', `/api/instances/${id}/events`, alice, undefined, { 'last-event-id': 'x' }))
        .status,
    ).toBe(422)
  })

  it('waits for the first event with wait_ms', async () => {
    const last = (await t.inject('GET', `/api/instances/${id}/events`, alice)).body.at(-1).cursor
    const pending = t.inject('GET', `/api/instances/${id}/events?after=${last}&wait_ms=5000`, alice)
    await new Promise((r) => setTimeout(r, 200))
    await t.services.events.record(id, 'ready')
    const res = await pending
    expect(res.body.map((e: { type: string }) => e.type)).toEqual(['ready'])
  })

  it('follows events as SSE with the cursor as id, and resumes after Last-Event-ID with no gap or duplicate', async () => {
    const other = await insertInstanceRow(t.services.store, aliceId)
    await t.services.events.record(other, 'created')
    const headers = { authorization: `Bearer ${alice}`, accept: 'text/event-stream' }
    const first = new SseReader(await fetch(`${url}/api/instances/${other}/events`, { headers }))
    const created = await first.next(5000)
    expect(created?.event).toBe('created')
    await t.services.events.record(other, 'starting')
    const starting = await first.next(5000)
    expect(starting).toMatchObject({ event: 'starting', id: String(starting?.data.cursor) })
    await first.cancel()
    // Recorded while no one follows: the next connection gets them from the store.
    await t.services.events.record(other, 'ready')
    await t.services.events.record(other, 'stopping')
    const resumed = new SseReader(
      await fetch(`${url}/api/instances/${other}/events`, {
        headers: { ...headers, 'last-event-id': String(starting?.id) },
      }),
    )
    expect((await resumed.next(5000))?.event).toBe('ready')
    expect((await resumed.next(5000))?.event).toBe('stopping')
    await t.services.events.record(other, 'stopped')
    expect((await resumed.next(5000))?.event).toBe('stopped')
    await resumed.cancel()
  })

  it(`keeps an instance's newest ${EVENTS_KEPT_PER_INSTANCE} events`, async () => {
    const busy = await insertInstanceRow(t.services.store, aliceId)
    for (let i = 0; i < EVENTS_KEPT_PER_INSTANCE + 20; i++)
      await t.services.events.record(busy, 'ready', { data: { i } })
    const kept = await t.services.events.list(busy, 0, 1000)
    expect(kept).toHaveLength(EVENTS_KEPT_PER_INSTANCE)
    expect(kept[0]?.data.i).toBe(20)
  })

  it('registers a webhook, shows its secret once, and keeps it from other users', async () => {
    const created = await open.inject('POST', '/api/webhooks', await open.user('carol@example.com'), {
      url: 'http://127.0.0.1:9/hook',
      events: ['crashed', 'oom_killed'],
    })
    expect(created.status).toBe(201)
    expect(created.body.secret).toMatch(/^whsec_/)
    expect(created.body.events).toEqual(['crashed', 'oom_killed'])
    const a = await open.user('dave@example.com')
    const mine = await open.inject('POST', '/api/webhooks', a, { url: 'http://10.0.0.5/hook' })
    expect(mine.body.events).toEqual(['*'])
    const listed = await open.inject('GET', '/api/webhooks', a)
    expect(listed.body).toEqual([
      { id: mine.body.id, url: 'http://10.0.0.5/hook', events: ['*'], created_at: mine.body.created_at },
    ])
    expect(JSON.stringify(listed.body)).not.toContain(mine.body.secret)
    const e = await open.user('erin@example.com')
    expect((await open.inject('GET', '/api/webhooks', e)).body).toEqual([])
    expect((await open.inject('GET', `/api/webhooks/${mine.body.id}/deliveries`, e)).status).toBe(404)
    expect((await open.inject('DELETE', `/api/webhooks/${mine.body.id}`, e)).status).toBe(404)
    expect((await open.inject('DELETE', `/api/webhooks/${mine.body.id}`, a)).status).toBe(204)
    expect((await open.inject('GET', '/api/webhooks', a)).body).toEqual([])
    expect((await open.inject('DELETE', `/api/webhooks/${mine.body.id}`, a)).body.code).toBe(
      'webhook_not_found',
    )
  })

  it('refuses webhook URLs on private, loopback or link-local addresses with 422, unless the operator allows them', async () => {
    for (const target of [
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://api.localhost/hook',
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://2130706433/hook',
      'http://10.1.2.3/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://100.64.0.1/hook',
    ]) {
      const res = await t.inject('POST', '/api/webhooks', alice, { url: target })
      expect(res.status, target).toBe(422)
      expect(res.body.code, target).toBe('webhook_url_not_allowed')
    }
    for (const bad of ['ftp://example.com/x', 'file:///etc/passwd', 'not a url'])
      expect((await t.inject('POST', '/api/webhooks', alice, { url: bad })).body.code).toBe(
        'webhook_url_not_allowed',
      )
    expect(
      (await t.inject('POST', '/api/webhooks', alice, { url: 'https://example.com/h', events: ['nope'] }))
        .status,
    ).toBe(422)
    expect((await t.inject('GET', '/api/webhooks', alice)).body).toEqual([])
    const allowed = await open.inject('POST', '/api/webhooks', await open.user('frank@example.com'), {
      url: 'http://127.0.0.1:8080/hook',
    })
    expect(allowed.status).toBe(201)
  })
})
