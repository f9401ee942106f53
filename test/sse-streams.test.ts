import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type net from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_QUEUED_BYTES, openSse } from '../src/http/sse.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { insertInstanceRow } from './helpers/rows.js'
import { parseSse, SseReader } from './helpers/sse.js'

/** The first bytes of a stream, as the client's first read gets them. */
async function firstChunk(res: Response): Promise<{ text: string; reader: SseReader }> {
  const [head, rest] = (res.body as ReadableStream<Uint8Array>).tee()
  const r = head.getReader()
  const first = await r.read()
  // Not awaited: a branch's cancel settles only once the other branch is done too.
  void r.cancel()
  return { text: new TextDecoder().decode(first.value), reader: new SseReader(new Response(rest)) }
}

/**
 * Event streams open at once (headers and a first comment before any event, however long the
 * first event takes) and hold a slow reader's backlog to a bound instead of buffering for it.
 */
describe('event streams', () => {
  let t: InProcess
  let url: string
  let key: string
  let userId: string

  beforeAll(async () => {
    t = await inProcess(TEST_ENV)
    key = await t.user('streams@example.com', 'pro')
    userId = (await t.services.accounts.userByEmail('streams@example.com')).id
    url = await t.app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(() => t?.close())

  const auth = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' })

  it('opens a swarm broadcast stream before any member answers', async () => {
    const swarmId = randomUUID()
    const at = new Date().toISOString()
    const store = t.services.store.automation.swarms
    await store.insert({ id: swarmId, user_id: userId, name: 'quiet', created_at: at, updated_at: at })
    // Stopped members: the message waits in their inboxes, so no event comes before the timeout.
    for (const position of [0, 1]) {
      const instanceId = await insertInstanceRow(t.services.store, userId, 'stopped')
      await store.addMember({
        instance_id: instanceId,
        swarm_id: swarmId,
        position,
        role: null,
        instructions: null,
        created_at: at,
      })
    }
    const res = await fetch(`${url}/api/swarms/${swarmId}/broadcast`, {
      method: 'POST',
      headers: { ...auth(), accept: 'text/event-stream' },
      body: JSON.stringify({ message: 'anyone?', timeout_ms: 1_000 }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    // The first event at once: before any member answers or the 1 s broadcast timeout ends it.
    const { text, reader } = await firstChunk(res)
    expect(text).toBe(': ok\n\n')
    const events = await reader.rest(10_000)
    expect(events.map((e) => e.event)).toEqual(['reply', 'reply', 'done'])
    expect(events.at(-1)?.data).toMatchObject({ replied: 0, pending: 2 })
  })

  it('opens a pipeline run stream with a comment, then the run, and ends after it finishes', async () => {
    const instanceId = await insertInstanceRow(t.services.store, userId, 'stopped')
    const pipeline = await t.inject('POST', '/api/pipelines', key, {
      name: 'streamed',
      steps: [{ name: 'one', type: 'exec', instance_id: instanceId, command: 'true' }],
    })
    expect(pipeline.status).toBe(201)
    const run = await t.inject('POST', `/api/pipelines/${pipeline.body.id}/runs`, key, {})
    expect(run.status).toBe(202)
    const res = await fetch(`${url}/api/pipelines/${pipeline.body.id}/runs/${run.body.id}/events`, {
      headers: auth(),
    })
    expect(res.status).toBe(200)
    const { text, reader } = await firstChunk(res)
    expect(text.startsWith(': ok\n\n')).toBe(true)
    const first = await reader.next(10_000)
    expect(first).toMatchObject({ event: 'run', data: { id: run.body.id } })
    await t.inject('POST', `/api/pipelines/${pipeline.body.id}/runs/${run.body.id}/cancel`, key)
    const last = (await reader.rest(30_000)).at(-1) ?? first
    expect(last).toMatchObject({ event: 'run', data: { id: run.body.id } })
    expect(['succeeded', 'failed', 'cancelled']).toContain(last?.data.status)
    expect(reader.ended).toBe(true)
  })

  describe('a reader that stops reading', () => {
    let app: FastifyInstance
    let port: number
    const FRAME = 'x'.repeat(16 * 1024)
    const MAX_FRAMES = 4_000
    let pushed = 0
    let mostBufferedBytes = 0
    let cutOff: Promise<void>

    beforeAll(async () => {
      app = Fastify()
      let onCut: () => void = () => {}
      cutOff = new Promise((resolve) => {
        onCut = resolve
      })
      // A push source that never waits, as pipeline progress and broadcast replies are.
      app.get('/push', (_req, reply) => {
        const sse = openSse(reply)
        sse.onStop(onCut)
        const tick = () => {
          if (sse.stopped || pushed >= MAX_FRAMES) return
          sse.send(++pushed, 'chunk', FRAME)
          mostBufferedBytes = Math.max(mostBufferedBytes, reply.raw.writableLength)
          setImmediate(tick)
        }
        tick()
        return reply
      })
      await app.listen({ port: 0, host: '127.0.0.1' })
      port = (app.server.address() as net.AddressInfo).port
    })
    afterAll(() => app?.close())

    it('is cut off once its backlog passes the bound, and gets every event before in order', async () => {
      // A real HTTP client whose response is never read: the socket stops being read too.
      const res = await new Promise<http.IncomingMessage>((resolve) =>
        http.get({ host: '127.0.0.1', port, path: '/push', agent: false }, resolve),
      )
      res.pause()
      await cutOff
      expect(pushed).toBeLessThan(MAX_FRAMES)
      // Node's own buffer never held more than about one frame past its high-water mark.
      expect(mostBufferedBytes).toBeLessThan(64 * 1024 + FRAME.length)
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.resume()
      await new Promise((resolve) => res.once('end', resolve))
      const body = Buffer.concat(chunks).toString('utf8')
      expect(body.startsWith(': ok')).toBe(true)
      const ids = parseSse(body)
        .filter((e) => e.data === FRAME)
        .map((e) => Number(e.id))
      expect(ids.length).toBeGreaterThan(0)
      expect(ids).toEqual(ids.map((_, i) => i + 1))
      // What was dropped is what was queued past the bound, no more than the bound's worth.
      expect((pushed - ids.length) * FRAME.length).toBeLessThan(MAX_QUEUED_BYTES + 2 * FRAME.length)
    })
  })
})
