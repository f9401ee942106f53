import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { gatewayEnv, TEST_ENV, TEST_PLANS } from './helpers/plans.js'
import { havePostgres } from './helpers/postgres.js'
import { replicas, teardown } from './helpers/replicas.js'
import { buildOnce } from './helpers/sandbox.js'
import type { TestServer } from './helpers/server.js'
import { type SseEvent, SseReader } from './helpers/sse.js'
import { waitFor } from './helpers/wait.js'
import { mustRefuse, Term } from './helpers/ws.js'

/**
 * Several real `clawport serve` replicas on one PostgreSQL and one host's data folder: any
 * request, stream or WebSocket may land on any of them. One instance with the real OpenClaw
 * gateway serves the chat cases (its boot is the costly part).
 */
const pg = havePostgres()

async function follow(s: TestServer, key: string, instanceId: string, after: number): Promise<SseReader> {
  const res = await fetch(`${s.url}/api/instances/${instanceId}/chat/events?after=${after}`, {
    headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
  })
  expect(res.status).toBe(200)
  return new SseReader(res)
}

async function stream(s: TestServer, key: string, instanceId: string, body: unknown): Promise<SseReader> {
  const res = await fetch(`${s.url}/api/instances/${instanceId}/chat/stream`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(res.status).toBe(200)
  return new SseReader(res)
}

/** Reads until the turn of `sessionId` ends (`done` or `error`); returns what was read. */
async function untilEnd(r: SseReader, sessionId?: string, timeoutMs = 60_000): Promise<SseEvent[]> {
  const out: SseEvent[] = []
  for (;;) {
    const e = await r.next(timeoutMs)
    if (!e) return out
    out.push(e)
    const mine = !sessionId || e.data?.session_id === sessionId
    if (mine && (e.event === 'done' || e.event === 'error')) return out
  }
}

async function lastCursor(s: TestServer, key: string, id: string): Promise<number> {
  const all = await s.api('GET', `/api/instances/${id}/chat/events?limit=1000`, { key })
  return all.body.at(-1)?.cursor ?? 0
}

describe.skipIf(!pg)('replicas on one PostgreSQL, with a real gateway', () => {
  let servers: TestServer[] = []
  let model: ModelServer
  let key: string
  let id: string
  const at = (i: number) => servers[i] as TestServer

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    servers = await replicas(
      3,
      gatewayEnv(model.baseUrl, 'sk-upstream-replicas', {
        CLAWPORT_LLM_FIRST_BYTE_TIMEOUT_MS: '60000',
        CLAWPORT_LLM_IDLE_TIMEOUT_MS: '60000',
      }),
    )
    key = await at(0).user('replicas@example.com', 'agent')
    const res = await at(0).api('POST', '/api/instances', { key, body: { name: 'shared' } })
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    id = res.body.id
    await at(1).waitStatus(id, 'ready', key, 240_000)
  }, 300_000)

  afterAll(async () => {
    await teardown(servers)
    await model?.close()
  })

  it('shows an instance created on A, ready, on B and C', async () => {
    for (const s of servers) {
      const res = await s.api('GET', `/api/instances/${id}`, { key })
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ id, status: 'ready', name: 'shared' })
    }
  })

  it('follows on B a turn streamed from C: every event once, in cursor order', async () => {
    const after = await lastCursor(at(1), key, id)
    const follower = await follow(at(1), key, id, after)
    const turn = await stream(at(2), key, id, { message: 'across replicas' })
    const streamed = await untilEnd(turn)
    expect(streamed.at(-1)?.event).toBe('done')
    const sessionId = streamed.find((e) => e.event === 'session')?.data.session_id as string
    const seen = await untilEnd(follower, sessionId)
    await follower.cancel()
    const cursors = seen.map((e) => Number(e.id))
    expect(cursors).toEqual(Array.from({ length: cursors.length }, (_, i) => after + 1 + i))
    // The follower on B saw exactly what the stream on C sent, event for event.
    expect(seen.map((e) => [Number(e.id), e.event])).toEqual(streamed.map((e) => [Number(e.id), e.event]))
    const text = seen
      .filter((e) => e.event === 'delta')
      .map((e) => e.data.text)
      .join('')
    expect(text).toBe('echo: across replicas')
  })

  it('aborts on B a turn running on A, and says so on C', async () => {
    const session = (await at(0).api('POST', `/api/instances/${id}/chat/sessions`, { key, body: {} })).body
    const turn = await stream(at(0), key, id, { message: 'stall', session_id: session.id })
    let e = await turn.next()
    while (e && e.event !== 'delta') e = await turn.next(30_000)
    // A second turn in the session is refused on any replica while it runs.
    const busy = await at(2).api('POST', `/api/instances/${id}/chat`, {
      key,
      body: { message: 'me too', session_id: session.id },
    })
    expect(busy.status).toBe(409)
    expect(busy.body.code).toBe('turn_in_progress')
    const res = await at(1).api('POST', `/api/instances/${id}/chat/abort`, {
      key,
      body: { session_id: session.id },
    })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ session_id: session.id, aborted: true })
    const rest = await turn.rest(15_000)
    expect(rest.at(-1)).toMatchObject({ event: 'error', data: { code: 'aborted' } })
    const again = await at(2).api('POST', `/api/instances/${id}/chat/abort`, {
      key,
      body: { session_id: session.id },
    })
    expect(again.body.aborted).toBe(false)
  })

  it('opens a terminal on B with a ticket from A, once', async () => {
    const ticket = (await at(0).api('POST', `/api/instances/${id}/ws-ticket`, { key })).body.ticket
    expect(ticket).toMatch(/^wst_/)
    const url = (s: TestServer) =>
      `${s.url.replace(/^http/, 'ws')}/api/instances/${id}/terminal/ws?ticket=${ticket}`
    const term = await Term.open(url(at(1)))
    term.type('echo from-b\n')
    await term.waitOutput(/from-b\r\n/)
    await term.close()
    expect(await mustRefuse(url(at(2)))).toMatchObject({ status: 401, body: { code: 'invalid_ticket' } })
  })

  it('delivers an inbox message once, and every replica waiting on it sees the reply', async () => {
    const sent = await at(2).api('POST', `/api/instances/${id}/inbox`, {
      key,
      body: { message: 'inbox across replicas' },
    })
    expect(sent.status, JSON.stringify(sent.body)).toBe(202)
    // One replica delivers it; the others' waits end on the bus's wake-up, long before wait_ms.
    const waits = await Promise.all(
      servers.map((s) => s.api('GET', `/api/instances/${id}/inbox/${sent.body.id}?wait_ms=120000`, { key })),
    )
    for (const w of waits)
      expect(w.body).toMatchObject({ status: 'replied', reply: 'echo: inbox across replicas' })
    const replied = waits[0]?.body
    const history = await at(0).api(
      'GET',
      `/api/instances/${id}/chat/messages?session_id=${replied.session_id}`,
      {
        key,
      },
    )
    const asked = history.body.filter((m: { content: string }) => m.content.includes('inbox across replicas'))
    // One user message and one answer: delivered once, not once per replica.
    expect(asked.filter((m: { role: string }) => m.role === 'user')).toHaveLength(1)
  }, 90_000)

  it('closes the turn of a replica killed with -9 as server_restarted, and only that one', async () => {
    const s1 = (await at(2).api('POST', `/api/instances/${id}/chat/sessions`, { key, body: {} })).body
    const s2 = (await at(0).api('POST', `/api/instances/${id}/chat/sessions`, { key, body: {} })).body
    const after = await lastCursor(at(1), key, id)
    const follower = await follow(at(1), key, id, after)
    const doomed = await stream(at(2), key, id, { message: 'stall', session_id: s1.id })
    const survivor = await stream(at(0), key, id, { message: 'stall', session_id: s2.id })
    for (const r of [doomed, survivor]) {
      let e = await r.next()
      while (e && e.event !== 'delta') e = await r.next(30_000)
    }
    await at(2).kill9()
    await doomed.cancel()
    const seen = await untilEnd(follower, s1.id, 90_000)
    expect(seen.at(-1)).toMatchObject({
      event: 'error',
      data: { code: 'server_restarted', session_id: s1.id },
    })
    // The live replica's turn was left alone: it still runs until aborted.
    expect(
      seen.some((e) => e.data?.session_id === s2.id && (e.event === 'done' || e.event === 'error')),
    ).toBe(false)
    const res = await at(1).api('POST', `/api/instances/${id}/chat/abort`, {
      key,
      body: { session_id: s2.id },
    })
    expect(res.body.aborted).toBe(true)
    expect((await survivor.rest(15_000)).at(-1)).toMatchObject({ event: 'error', data: { code: 'aborted' } })
    await follower.cancel()
  }, 180_000)
})

describe.skipIf(!pg)('replicas on one PostgreSQL: work done once', () => {
  let servers: TestServer[] = []
  const plans = JSON.stringify(
    (JSON.parse(TEST_PLANS) as Array<{ name: string; network: string }>).filter(
      (p) => p.network === 'off' && ['free', 'pro'].includes(p.name),
    ),
  )

  beforeAll(async () => {
    servers = await replicas(2, {
      ...TEST_ENV,
      CLAWPORT_PLANS: plans,
      CLAWPORT_POOL_SIZE: '1',
      // Schedules every 2 s, so a test sees several ticks.
      CLAWPORT_SCHEDULE_MIN_INTERVAL_S: '1',
    })
  }, 180_000)
  afterAll(() => teardown(servers))

  it('keeps one warm pool between them, and either hands it out', async () => {
    const [a, b] = servers as [TestServer, TestServer]
    const ready = async (s: TestServer) => (await s.api('GET', '/api/admin/pool')).body.ready as number
    await waitFor('a warm instance', async () => (await ready(a)) >= 1, {
      timeoutMs: 120_000,
      intervalMs: 200,
    })
    // Time for a second replica's refill to have doubled it, if it were going to.
    await new Promise((r) => setTimeout(r, 3000))
    expect(await ready(a)).toBe(1)
    expect(await ready(b)).toBe(1)
    const key = await b.user('warm@example.com', 'pro')
    const both = await Promise.all([a, b].map((s) => s.api('POST', '/api/instances', { key })))
    expect(both.map((r) => r.status)).toEqual([201, 201])
    expect(both.map((r) => r.body.status).sort()).toEqual(['provisioning', 'ready'])
    for (const r of both) await a.waitStatus(r.body.id, 'ready', key, 120_000)
  }, 240_000)

  it('fires each tick of a schedule once, though both replicas run the clock', async () => {
    const [a, b] = servers as [TestServer, TestServer]
    const key = await a.user('cron@example.com', 'pro')
    const instance = await b.readyInstance(key, {}, 120_000)
    const created = await a.api('POST', '/api/pipelines', {
      key,
      body: {
        name: 'ticks',
        schedule: '*/2 * * * * *',
        steps: [{ name: 'tick', type: 'exec', instance_id: instance.id, command: 'echo tick' }],
      },
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const runs = await waitFor(
      'four scheduled runs',
      async () => {
        const list = (await b.api('GET', `/api/pipelines/${created.body.id}/runs`, { key })).body as Array<{
          trigger: string
          created_at: string
        }>
        return list.length >= 4 ? list : undefined
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    await a.api('DELETE', `/api/pipelines/${created.body.id}`, { key })
    expect(runs.every((r) => r.trigger === 'schedule')).toBe(true)
    // One run per tick: two replicas firing the same tick would start two runs milliseconds apart.
    const times = runs.map((r) => Date.parse(r.created_at)).sort((x, y) => x - y)
    for (let i = 1; i < times.length; i++)
      expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThan(1000)
  }, 180_000)

  it('streams on one replica the steps of a run the other executes', async () => {
    const [a, b] = servers as [TestServer, TestServer]
    const key = await a.user('runs@example.com', 'pro')
    const instance = await a.readyInstance(key, {}, 120_000)
    const created = await b.api('POST', '/api/pipelines', {
      key,
      body: {
        name: 'across',
        steps: [
          { name: 'first', type: 'exec', instance_id: instance.id, command: 'sleep 1; echo one' },
          { name: 'second', type: 'exec', instance_id: instance.id, command: 'sleep 1; echo two' },
        ],
      },
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    // Started on A (so A executes it), followed on B.
    const run = await a.api('POST', `/api/pipelines/${created.body.id}/runs`, { key, body: {} })
    expect(run.status).toBe(202)
    const res = await fetch(`${b.url}/api/pipelines/${created.body.id}/runs/${run.body.id}/events`, {
      headers: { authorization: `Bearer ${key}` },
    })
    const events = await new SseReader(res).rest(60_000)
    expect(events.at(-1)).toMatchObject({ event: 'run', data: { status: 'succeeded' } })
    const finished = events
      .filter((e) => e.event === 'step' && e.data.status === 'succeeded')
      .map((e) => [e.data.name, e.data.output])
    expect(finished).toEqual([
      ['first', 'one'],
      ['second', 'two'],
    ])
  }, 180_000)
})
