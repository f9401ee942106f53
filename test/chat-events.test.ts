import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChatFollower } from '../src/core/chat/follower.js'
import type { ChatEvent } from '../src/core/chat/types.js'
import { asUser } from '../src/core/scope.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { insertInstanceRow } from './helpers/rows.js'
import { type SseEvent, SseReader } from './helpers/sse.js'
import { waitFor } from './helpers/wait.js'

/** The event log's cursor semantics, fed by real store writes through the chat service. */
describe('chat events: cursors, follow, resume (in process)', () => {
  let t: InProcess
  let key: string
  let url: string
  let id: string
  let sessionA: string
  let sessionB: string

  const append = (session: string, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        t.services.chat.events.append(id, session, 'delta', { text: `t${i}` }),
      ),
    )

  async function followSse(query: string, lastEventId?: string): Promise<SseReader> {
    const res = await fetch(`${url}/api/instances/${id}/chat/events?${query}`, {
      headers: {
        authorization: `Bearer ${key}`,
        accept: 'text/event-stream',
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    return new SseReader(res)
  }

  beforeAll(async () => {
    t = await inProcess(TEST_ENV)
    key = await t.user('events@example.com', 'pro')
    const user = await t.services.accounts.userByEmail('events@example.com')
    id = await insertInstanceRow(t.services.store, user.id)
    sessionA = (await t.services.chat.createSession(asUser(user.id), id, { title: 'a' })).id
    sessionB = (await t.services.chat.createSession(asUser(user.id), id, { title: 'b' })).id
    url = await t.app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(() => t?.close())

  it('numbers events 1, 2, 3... per instance, even when written concurrently', async () => {
    const written = await append(sessionA, 50)
    expect(written.map((e) => e.cursor)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    const listed = await t.inject('GET', `/api/instances/${id}/chat/events?limit=1000`, key)
    expect(listed.body.map((e: ChatEvent) => e.cursor)).toEqual(written.map((e) => e.cursor))
    const page = await t.inject('GET', `/api/instances/${id}/chat/events?after=10&limit=5`, key)
    expect(page.body.map((e: ChatEvent) => e.cursor)).toEqual([11, 12, 13, 14, 15])
    const fromHeader = await t.inject(
      'GET',
      `/api/instances/${id}/chat/events?after=2&limit=2`,
      key,
      undefined,
      { 'last-event-id': '40' },
    )
    expect(fromHeader.body.map((e: ChatEvent) => e.cursor)).toEqual([41, 42])
  })

  it('follows as SSE: the backlog after the cursor, then live events, with no gap or duplicate across reconnects', async () => {
    const start = await t.services.store.chat.lastCursor(id)
    await append(sessionA, 5)
    const first = await followSse(`after=${start}`)
    const seen: SseEvent[] = []
    for (let i = 0; i < 5; i++) seen.push((await first.next()) as SseEvent)
    // Live events written while the client reads and after it has gone.
    const live = append(sessionB, 20)
    for (let i = 0; i < 7; i++) seen.push((await first.next()) as SseEvent)
    await first.cancel()
    await live
    await append(sessionA, 3)
    const second = await followSse(`after=${start}`, seen.at(-1)?.id)
    for (let i = 0; i < 16; i++) seen.push((await second.next()) as SseEvent)
    const ids = seen.map((e) => Number(e.id))
    expect(ids).toEqual(Array.from({ length: 28 }, (_, i) => start + 1 + i))
    // Then it waits for more, and gets it.
    const more = append(sessionB, 1)
    expect(Number((await second.next())?.id)).toBe(start + 29)
    await more
    await second.cancel()
    expect(seen[0]?.data).toMatchObject({ text: 't0', session_id: sessionA })
  })

  it('filters by session, and stops following when the client leaves', async () => {
    const start = await t.services.store.chat.lastCursor(id)
    const reader = await followSse(`after=${start}&session_id=${sessionB}`)
    await append(sessionA, 2)
    await append(sessionB, 2)
    const a = await reader.next()
    const b = await reader.next()
    expect([a?.data.session_id, b?.data.session_id]).toEqual([sessionB, sessionB])
    expect(Number(b?.id)).toBe(Number(a?.id) + 1)
    expect(t.services.chat.events.listenerCount(id)).toBe(1)
    await reader.cancel()
    await waitFor('the follower to stop listening', () => t.services.chat.events.listenerCount(id) === 0, {
      timeoutMs: 1000,
      intervalMs: 20,
    })
  })

  it('keeps a slow reader bounded: past its queue it catches up from the store, losing nothing', async () => {
    const start = await t.services.store.chat.lastCursor(id)
    const follower = new ChatFollower(t.services.chat.events, { instanceId: id, after: start, maxQueue: 4 })
    const it = follower[Symbol.asyncIterator]()
    await append(sessionA, 2)
    const got = [((await it.next()).value as ChatEvent).cursor]
    // 30 events arrive while the reader is busy: far more than its queue holds.
    await append(sessionB, 30)
    while (got.length < 32) got.push(((await it.next()).value as ChatEvent).cursor)
    expect(got).toEqual(Array.from({ length: 32 }, (_, i) => start + 1 + i))
    follower.close()
    expect((await it.next()).done).toBe(true)
  })

  it('JSON with wait_ms answers at once when events exist, when the first arrives, or empty after the wait', async () => {
    const start = await t.services.store.chat.lastCursor(id)
    const t0 = Date.now()
    const empty = await t.inject('GET', `/api/instances/${id}/chat/events?after=${start}&wait_ms=300`, key)
    expect(empty.body).toEqual([])
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250)
    // Woken by the first event, before the second comes: an answer at the end of the wait would hold both.
    const waiting = t.inject('GET', `/api/instances/${id}/chat/events?after=${start}&wait_ms=10000`, key)
    await new Promise((r) => setTimeout(r, 100))
    await append(sessionA, 1)
    const woke = await waiting
    await append(sessionA, 1)
    expect(woke.body.map((e: ChatEvent) => e.cursor)).toEqual([start + 1])
  })

  it('tells where the log ends, however the instance id is spelt, and only to its owner', async () => {
    const last = (await t.services.chat.events.list(id, 0, undefined, 10_000)).at(-1)?.cursor
    expect(last).toBeGreaterThan(0)
    for (const spelt of [id, id.toUpperCase()]) {
      const r = await t.inject('GET', `/api/instances/${spelt}/chat/cursor`, key)
      expect(r.status).toBe(200)
      expect(r.body).toEqual({ cursor: last })
    }
    const other = await t.user('cursor-other@example.com', 'pro')
    expect((await t.inject('GET', `/api/instances/${id}/chat/cursor`, other)).status).toBe(404)
  })

  it('removes the chat rows with their instance', async () => {
    const user = await t.services.accounts.userByEmail('events@example.com')
    await t.services.store.instances.remove(id)
    expect(await t.services.store.chat.listEvents(id, { after: 0, limit: 10 })).toEqual([])
    expect(await t.services.store.chat.listSessions(id)).toEqual([])
    expect(await t.services.store.chat.listMessages(sessionA, { limit: 10 })).toEqual([])
    await expect(t.services.chat.listSessions(asUser(user.id), id)).rejects.toMatchObject({ status: 404 })
  })
})
