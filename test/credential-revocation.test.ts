import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { insertInstanceRow } from './helpers/rows.js'
import { mustRefuse } from './helpers/ws.js'

/** Reads an event stream until the server ends it; rejects if it is still open after `ms`. */
async function readUntilEnd(res: Response, onFirst: () => Promise<void>, ms = 5_000): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  let first = true
  let stillOpen = false
  const deadline = setTimeout(() => {
    stillOpen = true
    void reader.cancel()
  }, ms)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value)
      if (first) {
        first = false
        await onFirst()
      }
    }
  } finally {
    clearTimeout(deadline)
  }
  if (stillOpen) throw new Error(`the stream was still open after ${ms} ms`)
  return text
}

/** Revoking a key or signing out ends what it opened, and the tickets it issued. */
describe('credential revocation', () => {
  let t: InProcess
  let url: string
  let userId: string
  let instanceId: string

  beforeAll(async () => {
    t = await inProcess(TEST_ENV)
    const user = await t.services.accounts.createUser({
      email: 'revoke@example.com',
      plan: 'pro',
      password: 'a-long-password',
    })
    userId = user.id
    instanceId = await insertInstanceRow(t.services.store, user.id)
    url = await t.app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(() => t?.close())

  const newKey = () => t.services.keys.create(userId, 'revocable')
  const eventsUrl = () => `${url}/api/instances/${instanceId}/chat/events`

  it('refuses a WebSocket ticket whose key was revoked after it was issued', async () => {
    const k = await newKey()
    const issued = await t.inject('POST', `/api/instances/${instanceId}/ws-ticket`, k.key)
    expect(issued.status).toBe(200)
    expect((await t.inject('DELETE', `/api/keys/${k.id}`, k.key)).status).toBe(204)
    const port = (t.app.server.address() as AddressInfo).port
    const refused = await mustRefuse(
      `ws://127.0.0.1:${port}/api/instances/${instanceId}/terminal/ws?ticket=${issued.body.ticket}`,
    )
    expect(refused).toMatchObject({ status: 401, body: { code: 'invalid_ticket', status: 401 } })
  })

  it('ends an open event stream when its key is revoked', async () => {
    const k = await newKey()
    const res = await fetch(eventsUrl(), {
      headers: { authorization: `Bearer ${k.key}`, accept: 'text/event-stream' },
    })
    expect(res.status).toBe(200)
    const text = await readUntilEnd(res, async () => {
      expect((await t.inject('DELETE', `/api/keys/${k.id}`, k.key)).status).toBe(204)
    })
    expect(text).toContain(': API key revoked')
  })

  it('leaves the streams of other keys open', async () => {
    const keep = await newKey()
    const gone = await newKey()
    const res = await fetch(eventsUrl(), {
      headers: { authorization: `Bearer ${keep.key}`, accept: 'text/event-stream' },
    })
    const reading = readUntilEnd(
      res,
      async () => {
        expect((await t.inject('DELETE', `/api/keys/${gone.id}`, gone.key)).status).toBe(204)
      },
      1_500,
    )
    await expect(reading).rejects.toThrow(/still open/)
  })

  it('ends a dashboard sign-in’s event stream when it signs out', async () => {
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'revoke@example.com', password: 'a-long-password' },
    })
    expect(login.statusCode).toBe(200)
    const cookie = login.cookies.map((c) => `${c.name}=${c.value}`).join('; ')
    const res = await fetch(eventsUrl(), { headers: { cookie, accept: 'text/event-stream' } })
    expect(res.status).toBe(200)
    const text = await readUntilEnd(res, async () => {
      const out = await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie } })
      expect(out.statusCode).toBe(204)
    })
    expect(text).toContain(': signed out')
  })
})
