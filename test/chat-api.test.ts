import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { insertInstanceRow } from './helpers/rows.js'
import { parseSse } from './helpers/sse.js'

/**
 * Chat without a model: sessions, validation, ownership, the turn that answers
 * `model_not_configured` (the real runner, no model set up), and the event cursor semantics.
 */
describe('chat API (in process)', () => {
  let t: InProcess
  let key: string
  let otherKey: string
  let id: string
  let stoppedId: string

  /** An instance row in a given state; in process there is no driver to start a sandbox. */
  async function instanceRow(email: string, status: string): Promise<string> {
    const user = await t.services.accounts.userByEmail(email)
    return insertInstanceRow(t.services.store, user.id, status)
  }

  beforeAll(async () => {
    t = await inProcess(TEST_ENV)
    key = await t.user('chat@example.com', 'pro')
    otherKey = await t.user('other@example.com', 'pro')
    id = await instanceRow('chat@example.com', 'ready')
    stoppedId = await instanceRow('chat@example.com', 'stopped')
  })
  afterAll(() => t?.close())

  it('creates sessions (201) and lists them as a bare array, most recently active first', async () => {
    expect((await t.inject('GET', `/api/instances/${id}/chat/sessions`, key)).body).toEqual([])
    const a = await t.inject('POST', `/api/instances/${id}/chat/sessions`, key, { title: 'first' })
    expect(a.status).toBe(201)
    expect(a.body).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), title: 'first' })
    expect(a.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    await new Promise((r) => setTimeout(r, 5))
    const b = await t.inject('POST', `/api/instances/${id}/chat/sessions`, key)
    expect(b.status).toBe(201)
    expect(b.body.title).toBeNull()
    const list = await t.inject('GET', `/api/instances/${id}/chat/sessions`, key)
    expect(list.body.map((s: any) => s.id)).toEqual([b.body.id, a.body.id])
    // A message makes a session the most recently active one.
    await new Promise((r) => setTimeout(r, 5))
    await t.inject('POST', `/api/instances/${id}/chat`, key, {
      message: 'hello there',
      session_id: a.body.id,
    })
    const after = await t.inject('GET', `/api/instances/${id}/chat/sessions`, key)
    expect(after.body[0]).toMatchObject({ id: a.body.id, title: 'first' })
  })

  it('answers a turn without a model with 503 model_not_configured, after storing the user message', async () => {
    const s = await t.inject('POST', `/api/instances/${id}/chat/sessions`, key, {})
    const res = await t.inject('POST', `/api/instances/${id}/chat`, key, {
      message: 'hi',
      session_id: s.body.id,
    })
    expect(res.status).toBe(503)
    expect(res.body).toMatchObject({
      code: 'model_not_configured',
      status: 503,
      details: { session_id: s.body.id },
    })
    expect(res.body.message).toMatch(/CLAWPORT_LLM_BASE_URL|model/i)
    const msgs = await t.inject('GET', `/api/instances/${id}/chat/messages?session_id=${s.body.id}`, key)
    expect(msgs.body).toMatchObject([{ role: 'user', content: 'hi', seq: 1, session_id: s.body.id }])
    const sessions = await t.inject('GET', `/api/instances/${id}/chat/sessions`, key)
    expect(sessions.body.find((x: any) => x.id === s.body.id).title).toBe('hi')
  })

  it('streams the same failure as SSE: session, message, then one error event, ids = cursors', async () => {
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const res = await fetch(`${url}/api/instances/${id}/chat/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'stream me' }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = parseSse(await res.text())
    expect(events.map((e) => e.event)).toEqual(['session', 'message', 'error'])
    const ids = events.map((e) => Number(e.id))
    expect(ids[1]).toBe((ids[0] as number) + 1)
    expect(ids[2]).toBeGreaterThan(ids[1] as number)
    expect(events[1]?.data.message).toMatchObject({ role: 'user', content: 'stream me' })
    expect(events[2]?.data).toMatchObject({ code: 'model_not_configured', message: expect.any(String) })
    const stored = await t.inject(
      'GET',
      `/api/instances/${id}/chat/events?after=${(ids[0] as number) - 1}`,
      key,
    )
    expect(stored.body.map((e: any) => e.cursor)).toEqual(ids)
  })

  it('uses the most recent session when none is given, and creates one on a fresh instance', async () => {
    const fresh = await instanceRow('chat@example.com', 'ready')
    const res = await t.inject('POST', `/api/instances/${fresh}/chat`, key, { message: 'first words' })
    expect(res.status).toBe(503)
    const sessions = await t.inject('GET', `/api/instances/${fresh}/chat/sessions`, key)
    expect(sessions.body).toHaveLength(1)
    expect(res.body.details.session_id).toBe(sessions.body[0].id)
    const again = await t.inject('POST', `/api/instances/${fresh}/chat`, key, { message: 'more' })
    expect(again.body.details.session_id).toBe(sessions.body[0].id)
    const msgs = await t.inject('GET', `/api/instances/${fresh}/chat/messages`, key)
    expect(msgs.body.map((m: any) => [m.seq, m.content])).toEqual([
      [1, 'first words'],
      [2, 'more'],
    ])
  })

  it('validates bodies and queries with 422', async () => {
    for (const body of [
      {},
      { message: '' },
      { message: '   ' },
      { message: 42 },
      { message: 'x', session_id: 5 },
    ]) {
      const res = await t.inject('POST', `/api/instances/${id}/chat`, key, body)
      expect(res.status, JSON.stringify(body)).toBe(422)
      expect(res.body.code).toBe('validation_failed')
    }
    for (const q of ['limit=0', 'limit=501', 'limit=abc', 'tail=maybe', 'before=-1']) {
      expect((await t.inject('GET', `/api/instances/${id}/chat/messages?${q}`, key)).status, q).toBe(422)
    }
    for (const q of ['after=-1', 'after=x', 'wait_ms=999999']) {
      expect((await t.inject('GET', `/api/instances/${id}/chat/events?${q}`, key)).status, q).toBe(422)
    }
    const bad = await t.inject('GET', `/api/instances/${id}/chat/events`, key, undefined, {
      'last-event-id': 'abc',
    })
    expect(bad.status).toBe(422)
    expect((await t.inject('POST', `/api/instances/${id}/chat/abort`, key, {})).status).toBe(422)
  })

  it('answers 404 for unknown instances and sessions, and for instances of other users on every route', async () => {
    const unknownSession = randomUUID()
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/chat/sessions'],
      ['POST', '/chat/sessions', {}],
      ['POST', '/chat', { message: 'intruder' }],
      ['POST', '/chat/stream', { message: 'intruder' }],
      ['GET', '/chat/messages'],
      ['GET', '/chat/events'],
      ['GET', '/chat/events?stream=true'],
      ['POST', '/chat/abort', { session_id: unknownSession }],
    ]
    for (const [method, p, body] of routes) {
      const other = await t.inject(method, `/api/instances/${id}${p}`, otherKey, body)
      expect(other.status, `${method} ${p}`).toBe(404)
      expect(other.body.code).toBe('instance_not_found')
      const missing = await t.inject(method, `/api/instances/${randomUUID()}${p}`, key, body)
      expect(missing.status).toBe(404)
    }
    for (const [method, p, body] of [
      ['POST', '/chat', { message: 'hi', session_id: unknownSession }],
      ['POST', '/chat/stream', { message: 'hi', session_id: 'not-a-uuid' }],
      ['GET', `/chat/messages?session_id=${unknownSession}`],
      ['GET', `/chat/events?session_id=${unknownSession}`],
      ['POST', '/chat/abort', { session_id: unknownSession }],
    ] as Array<[string, string, unknown?]>) {
      const res = await t.inject(method, `/api/instances/${id}${p}`, key, body)
      expect(res.status, `${method} ${p}`).toBe(404)
      expect(res.body.code).toBe('chat_session_not_found')
    }
    // Nothing was written for the other user's attempts.
    const events = (await t.inject('GET', `/api/instances/${id}/chat/events?limit=1000`, key)).body
    expect(events.filter((e: any) => e.data.message?.content === 'intruder')).toEqual([])
  })

  it('refuses turns on an instance that is not ready with 409, but still shows its history', async () => {
    const res = await t.inject('POST', `/api/instances/${stoppedId}/chat`, key, { message: 'hi' })
    expect(res.status).toBe(409)
    expect(res.body.code).toBe('instance_not_ready')
    const stream = await t.inject('POST', `/api/instances/${stoppedId}/chat/stream`, key, { message: 'hi' })
    expect(stream.status).toBe(409)
    expect((await t.inject('GET', `/api/instances/${stoppedId}/chat/sessions`, key)).status).toBe(200)
    expect((await t.inject('GET', `/api/instances/${stoppedId}/chat/messages`, key)).body).toEqual([])
  })

  it('abort of a session with no running turn answers aborted: false', async () => {
    const s = await t.inject('POST', `/api/instances/${id}/chat/sessions`, key, {})
    const res = await t.inject('POST', `/api/instances/${id}/chat/abort`, key, { session_id: s.body.id })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ session_id: s.body.id, aborted: false })
  })

  it('lists the chat paths in discovery and documents the chat operations', async () => {
    const api = await t.inject('GET', '/api')
    for (const p of [
      '/chat',
      '/chat/stream',
      '/chat/sessions',
      '/chat/messages',
      '/chat/events',
      '/chat/abort',
    ])
      expect(api.body.resources).toContain(`/api/instances/{id}${p}`)
    const doc = await t.inject('GET', '/api/openapi.json')
    const ops = Object.values(
      doc.body.paths as Record<string, Record<string, { operationId?: string }>>,
    ).flatMap((p) => Object.values(p).map((o) => o.operationId))
    for (const op of [
      'chat.sessions.list',
      'chat.sessions.create',
      'chat.send',
      'chat.stream',
      'chat.messages',
      'chat.events',
      'chat.abort',
    ])
      expect(ops).toContain(op)
  })
})
