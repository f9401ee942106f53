import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { gatewayEnv } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { parseSse, type SseEvent, SseReader } from './helpers/sse.js'
import { waitFor } from './helpers/wait.js'

/**
 * Chat end to end: a real `clawport serve`, a real instance with the real OpenClaw gateway, the
 * scripted model behind the broker. Streams are read off the wire and parsed by hand, as a client
 * following the hosted docs would. One instance serves the whole file (a gateway boot costs
 * ~10-30 s and ~0.7 GB here).
 */
describe('chat with a real OpenClaw gateway', () => {
  let s: TestServer
  let model: ModelServer
  let key: string
  let otherKey: string
  let id: string

  const base = () => `${s.url}/api/instances/${id}/chat`
  const post = (p: string, body: unknown, k = key) =>
    s.api('POST', `/api/instances/${id}/chat${p}`, { key: k, body })
  const get = (p: string, k = key) => s.api('GET', `/api/instances/${id}/chat${p}`, { key: k })

  /** Opens a chat stream and returns its reader; the response is checked to be SSE. */
  async function stream(body: unknown, k = key): Promise<SseReader> {
    const res = await fetch(`${base()}/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    return new SseReader(res)
  }

  /** Follows /chat/events as SSE from a cursor (as `after`, or as Last-Event-ID on a reconnect). */
  async function follow(opts: { after?: number; lastEventId?: string; query?: string }): Promise<SseReader> {
    const q = new URLSearchParams(opts.query ?? '')
    if (opts.after !== undefined) q.set('after', String(opts.after))
    const res = await fetch(`${base()}/events?${q}`, {
      headers: {
        authorization: `Bearer ${key}`,
        accept: 'text/event-stream',
        ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}),
      },
    })
    expect(res.status).toBe(200)
    return new SseReader(res)
  }

  async function lastCursor(): Promise<number> {
    const all = await get('/events?limit=1000')
    return all.body.at(-1)?.cursor ?? 0
  }

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    s = await startServer(
      gatewayEnv(model.baseUrl, 'sk-upstream-chat-test', {
        CLAWPORT_LLM_FIRST_BYTE_TIMEOUT_MS: '5000',
        CLAWPORT_LLM_IDLE_TIMEOUT_MS: '5000',
      }),
    )
    key = await s.user('chat@example.com', 'agent')
    otherKey = await s.user('other@example.com', 'agent')
    id = (await s.readyInstance(key, {}, 240_000)).id
  }, 300_000)

  afterAll(async () => {
    await s?.destroy()
    await model?.close()
  })

  it('answers a synchronous turn with the session, the assistant message and the whole turn', async () => {
    const res = await post('', { message: 'hello there' })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.session_id).toMatch(/^[0-9a-f-]{36}$/)
    expect(res.body.message).toMatchObject({
      role: 'assistant',
      content: 'echo: hello there',
      status: 'complete',
    })
    expect(res.body.message.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(res.body.messages.map((m: any) => [m.seq, m.role, m.content])).toEqual([
      [1, 'user', 'hello there'],
      [2, 'assistant', 'echo: hello there'],
    ])
    // Without session_id the same (most recent) session goes on.
    const again = await post('', { message: 'and again' })
    expect(again.body.session_id).toBe(res.body.session_id)
    expect(again.body.message.content).toBe('echo: and again')
    const sessions = await get('/sessions')
    expect(sessions.body).toHaveLength(1)
    expect(sessions.body[0]).toMatchObject({ id: res.body.session_id, title: 'hello there' })
  }, 120_000)

  it('streams a turn as raw SSE: session, message, deltas, done, ids equal to the cursors', async () => {
    const session = (await post('/sessions', { title: 'streamed' })).body
    const res = await fetch(`${base()}/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'stream this please', session_id: session.id }),
    })
    expect(res.status).toBe(200)
    const events = parseSse(await res.text())
    const names = events.map((e) => e.event)
    expect(names[0]).toBe('session')
    expect(names[1]).toBe('message')
    expect(names.at(-1)).toBe('done')
    expect(names.filter((n) => n === 'done' || n === 'error')).toHaveLength(1)
    expect(events[0]?.data.session_id).toBe(session.id)
    expect(events[1]?.data.message).toMatchObject({ role: 'user', content: 'stream this please', seq: 1 })
    const text = events.filter((e) => e.event === 'delta').map((e) => e.data.text as string)
    expect(text.length).toBeGreaterThan(0)
    expect(text.join('')).toBe('echo: stream this please')
    expect(events.at(-1)?.data.message).toMatchObject({
      role: 'assistant',
      content: 'echo: stream this please',
      seq: 2,
    })
    // One turn on a quiet instance: consecutive cursors, the same as the stored events.
    const ids = events.map((e) => Number(e.id))
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe((ids[i - 1] as number) + 1)
    const stored = await get(`/events?session_id=${session.id}&after=${(ids[0] as number) - 1}`)
    expect(stored.body.map((e: any) => [e.cursor, e.type])).toEqual(
      events.map((e) => [Number(e.id), e.event]),
    )
  }, 120_000)

  it('streams tool calls, stores them as tool messages, and their file changes show in the files API', async () => {
    const session = (await post('/sessions', {})).body
    const reader = await stream({
      message: 'run: echo made-by-chat > chat.txt && cat chat.txt',
      session_id: session.id,
    })
    const events = await reader.rest()
    const tools = events.filter((e) => e.event === 'tool')
    expect(tools[0]?.data).toMatchObject({
      name: 'exec',
      status: 'started',
      arguments: { command: 'echo made-by-chat > chat.txt && cat chat.txt' },
    })
    expect(tools.at(-1)?.data).toMatchObject({ name: 'exec', status: 'completed' })
    expect(JSON.stringify(tools.at(-1)?.data.result)).toContain('made-by-chat')
    expect(events.at(-1)).toMatchObject({
      event: 'done',
      data: { message: { content: 'ran: made-by-chat' } },
    })
    const file = await s.api('GET', `/api/instances/${id}/files/read?path=chat.txt`, { key })
    expect(file.body.content).toBe('made-by-chat\n')
    const history = await get(`/messages?session_id=${session.id}`)
    expect(history.body.map((m: any) => m.role)).toEqual(['user', 'tool', 'assistant'])
    expect(history.body[1]).toMatchObject({
      status: 'completed',
      tool: { name: 'exec', arguments: { command: 'echo made-by-chat > chat.txt && cat chat.txt' } },
    })
    expect(JSON.stringify(history.body[1].tool.result)).toContain('made-by-chat')
  }, 120_000)

  it('follows events from a cursor and resumes with Last-Event-ID with no gap and no duplicate', async () => {
    const from = await lastCursor()
    const first = await follow({ after: from })
    const turn = post('', { message: 'follow me around' })
    const seen: SseEvent[] = []
    // Read until the first delta, then drop the connection mid-turn.
    for (;;) {
      const e = (await first.next()) as SseEvent
      seen.push(e)
      if (e.event === 'delta' || e.event === 'done') break
    }
    await first.cancel()
    const second = await follow({ after: from, lastEventId: seen.at(-1)?.id as string })
    for (;;) {
      const e = (await second.next()) as SseEvent
      seen.push(e)
      if (e.event === 'done' || e.event === 'error') break
    }
    await second.cancel()
    expect((await turn).status).toBe(200)
    const cursors = seen.map((e) => Number(e.id))
    expect(cursors[0]).toBe(from + 1)
    for (let i = 1; i < cursors.length; i++) expect(cursors[i]).toBe((cursors[i - 1] as number) + 1)
    expect(seen.map((e) => e.event).at(-1)).toBe('done')
    expect(
      seen
        .filter((e) => e.event === 'delta')
        .map((e) => e.data.text)
        .join(''),
    ).toBe('echo: follow me around')
    // The JSON form gives the same events.
    const json = await get(`/events?after=${from}`)
    expect(json.body.map((e: any) => e.cursor)).toEqual(cursors)
    // Waiting JSON: answers as soon as an event exists, not after wait_ms: while the turn that
    // woke it (3 s long) still runs, so without its end.
    const waiting = get(`/events?after=${cursors.at(-1)}&wait_ms=20000`)
    await new Promise((r) => setTimeout(r, 300))
    const waker = post('', { message: 'slow 3000' })
    const woke = await waiting
    expect(woke.body.length).toBeGreaterThan(0)
    expect(woke.body[0].cursor).toBe((cursors.at(-1) as number) + 1)
    expect(woke.body.map((e: any) => e.type)).not.toContain('done')
    expect((await waker).body.message.content).toBe('finally')
  }, 120_000)

  it('completes and stores a turn whose stream client went away', async () => {
    const session = (await post('/sessions', {})).body
    const reader = await stream({ message: 'slow 3000', session_id: session.id })
    expect((await reader.next())?.event).toBe('session')
    const message = await reader.next()
    expect(message?.event).toBe('message')
    await reader.cancel()
    const done = await waitFor('the turn to end', async () => {
      const events = await get(`/events?session_id=${session.id}&after=${message?.id}`)
      return events.body.find((e: any) => e.type === 'done' || e.type === 'error')
    })
    expect(done).toMatchObject({ type: 'done', data: { message: { role: 'assistant', content: 'finally' } } })
    const history = await get(`/messages?session_id=${session.id}&tail=true&limit=1`)
    expect(history.body).toMatchObject([{ role: 'assistant', content: 'finally', status: 'complete' }])
  }, 120_000)

  it('refuses a second concurrent turn on one session with 409 turn_in_progress, never interleaving', async () => {
    const session = (await post('/sessions', {})).body
    const reader = await stream({ message: 'slow 2000', session_id: session.id })
    expect((await reader.next())?.event).toBe('session')
    const second = await post('', { message: 'me too', session_id: session.id })
    expect(second.status).toBe(409)
    expect(second.body).toMatchObject({ code: 'turn_in_progress', details: { session_id: session.id } })
    const secondStream = await fetch(`${base()}/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'me too', session_id: session.id }),
    })
    expect(secondStream.status).toBe(409)
    expect((await secondStream.json()).code).toBe('turn_in_progress')
    const rest = await reader.rest()
    expect(rest.at(-1)).toMatchObject({ event: 'done', data: { message: { content: 'finally' } } })
    const history = await get(`/messages?session_id=${session.id}`)
    expect(history.body.map((m: any) => m.content)).toEqual(['slow 2000', 'finally'])
  }, 120_000)

  it('aborts a running turn: error code aborted, the partial text kept', async () => {
    const session = (await post('/sessions', {})).body
    const reader = await stream({ message: 'stall', session_id: session.id })
    let e = await reader.next()
    while (e && e.event !== 'delta') e = await reader.next(30_000)
    expect(e?.data.text).toBe('stalling')
    const res = await post('/abort', { session_id: session.id })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ session_id: session.id, aborted: true })
    // Ended by the abort, not by the model's idle timeout (which would be upstream_timeout).
    const rest = await reader.rest(10_000)
    expect(rest.at(-1)).toMatchObject({ event: 'error', data: { code: 'aborted' } })
    const history = await get(`/messages?session_id=${session.id}`)
    expect(history.body.at(-1)).toMatchObject({ role: 'assistant', content: 'stalling', status: 'aborted' })
    expect((await post('/abort', { session_id: session.id })).body.aborted).toBe(false)
    // The session takes the next turn.
    expect(
      (await post('', { message: 'after the abort', session_id: session.id })).body.message.content,
    ).toBe('echo: after the abort')
  }, 120_000)

  // Clawport's own first-byte timeout answers, not OpenClaw's 70-90 s wait on a dead model
  // (how soon: bench/chat.ts).
  it('gives a clear error when the model hangs or fails: 504 and 502, error events in streams', async () => {
    const session = (await post('/sessions', {})).body
    const slow = await post('', { message: 'slow', session_id: session.id })
    expect(slow.status).toBe(504)
    expect(slow.body).toMatchObject({ code: 'upstream_timeout', details: { session_id: session.id } })
    const reader = await stream({ message: 'fail', session_id: session.id })
    const events = await reader.rest(30_000)
    expect(events.at(-1)?.event).toBe('error')
    expect(events.at(-1)?.data.code).toMatch(/^upstream_/)
    expect(events.at(-1)?.data.message.length).toBeGreaterThan(5)
  }, 120_000)

  it('answers 404 to other users on every chat route', async () => {
    const session = (await get('/sessions')).body[0]
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/sessions'],
      ['POST', '/sessions', {}],
      ['POST', '', { message: 'intruder' }],
      ['POST', '/stream', { message: 'intruder' }],
      ['GET', `/messages?session_id=${session.id}`],
      ['GET', '/events'],
      ['GET', '/events?stream=true'],
      ['POST', '/abort', { session_id: session.id }],
    ]
    for (const [method, p, body] of routes) {
      const res = await s.api(method, `/api/instances/${id}/chat${p}`, {
        key: otherKey,
        ...(body ? { body } : {}),
      })
      expect(res.status, `${method} ${p}`).toBe(404)
      expect(res.body.code).toBe('instance_not_found')
    }
  })

  it('keeps the history across a server restart (tail=true&limit=N)', async () => {
    const session = (await get('/sessions')).body.find((x: any) => x.title === 'hello there')
    const before = await get(`/messages?session_id=${session.id}&tail=true&limit=2`)
    await s.stop()
    await s.start()
    const after = await get(`/messages?session_id=${session.id}&tail=true&limit=2`)
    expect(after.status).toBe(200)
    expect(after.body).toEqual(before.body)
    expect(after.body.map((m: any) => m.content)).toEqual(['and again', 'echo: and again'])
    const all = await get(`/messages?session_id=${session.id}&limit=500`)
    expect(all.body.map((m: any) => m.seq)).toEqual([1, 2, 3, 4])
    // The re-adopted instance answers on the same session.
    await s.waitStatus(id, 'ready', key, 60_000)
    const next = await post('', { message: 'after restart', session_id: session.id })
    expect(next.status, JSON.stringify(next.body)).toBe(200)
    expect(next.body.messages.map((m: any) => m.seq)).toEqual([5, 6])
  }, 120_000)
})
