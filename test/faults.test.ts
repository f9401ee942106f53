import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ModelServer, startModelServer } from './fixtures/model-server.js'
import { gatewayEnv } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { type SseEvent, SseReader } from './helpers/sse.js'
import { waitFor } from './helpers/wait.js'

/**
 * Faults: the server killed with SIGKILL in the middle of a streamed chat turn and of a streamed
 * upload, then started again on the same data folder. One real instance with its real gateway
 * serves the file (a gateway boot is the expensive part).
 */
describe('kill -9 of the server', () => {
  let s: TestServer
  let model: ModelServer
  let key: string
  let id: string

  const chat = (p: string) => `${s.url}/api/instances/${id}/chat${p}`

  /** Kills the server as a crash would and starts it again; the instance is adopted back. */
  async function crashAndRestart(): Promise<void> {
    await s.kill9()
    await s.start()
    await s.waitStatus(id, 'ready', key, 120_000)
  }

  beforeAll(async () => {
    buildOnce()
    model = await startModelServer()
    s = await startServer(
      gatewayEnv(model.baseUrl, 'sk-upstream-faults-test', {
        CLAWPORT_DESKTOP: 'off',
        // The stalled turn must still be running when the server dies.
        CLAWPORT_LLM_IDLE_TIMEOUT_MS: '300000',
      }),
    )
    key = await s.user('faults@example.com', 'agent')
    id = (await s.readyInstance(key, {}, 240_000)).id
  }, 300_000)

  afterAll(async () => {
    await s?.destroy()
    await model?.close()
  })

  it('ends a turn cut by the crash with server_restarted: the partial text kept, no gap, no duplicate', async () => {
    const session = (await s.api('POST', `/api/instances/${id}/chat/sessions`, { key, body: {} })).body
    const res = await fetch(chat('/stream'), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'stall', session_id: session.id }),
    })
    expect(res.status).toBe(200)
    const reader = new SseReader(res)
    const seen: SseEvent[] = []
    let e = await reader.next()
    while (e) {
      seen.push(e)
      if (e.event === 'delta') break
      e = await reader.next(60_000)
    }
    expect(seen.map((x) => x.event)).toEqual(['session', 'message', 'delta'])
    expect(seen.at(-1)?.data.text).toBe('stalling')
    const lastId = seen.at(-1)?.id as string

    await crashAndRestart()

    // A follower resuming from its last id sees the turn end, and nothing before it again.
    const stop = new AbortController()
    const follow = await fetch(chat(`/events?session_id=${session.id}`), {
      signal: stop.signal,
      headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', 'last-event-id': lastId },
    })
    expect(follow.status).toBe(200)
    const resumed = new SseReader(follow)
    const end = await resumed.next(10_000)
    expect(end?.id).toBe(String(Number(lastId) + 1))
    expect(end).toMatchObject({
      event: 'error',
      data: {
        code: 'server_restarted',
        partial: { role: 'assistant', content: 'stalling', status: 'error' },
      },
    })
    stop.abort()

    // The whole session's log: one start, one end, consecutive cursors.
    const all = await s.api('GET', `/api/instances/${id}/chat/events?session_id=${session.id}&limit=100`, {
      key,
    })
    const cursors: number[] = all.body.map((x: { cursor: number }) => x.cursor)
    expect(cursors).toEqual([...new Set(cursors)].sort((a, b) => a - b))
    expect((cursors.at(-1) as number) - (cursors[0] as number)).toBe(cursors.length - 1)
    expect(all.body.map((x: { type: string }) => x.type)).toEqual(['session', 'message', 'delta', 'error'])
    const history = await s.api('GET', `/api/instances/${id}/chat/messages?session_id=${session.id}`, { key })
    expect(history.body.map((m: any) => [m.role, m.content, m.status])).toEqual([
      ['user', 'stall', 'complete'],
      ['assistant', 'stalling', 'error'],
    ])
    // A second restart finds nothing left open: no second error.
    await crashAndRestart()
    const again = await s.api('GET', `/api/instances/${id}/chat/events?session_id=${session.id}&limit=100`, {
      key,
    })
    expect(again.body).toHaveLength(all.body.length)
  }, 240_000)

  it('leaves neither the file nor its temporary part after a crash during a 50 MB streamed upload', async () => {
    await s.exec(id, 'mkdir -p /workspace/up', {}, key)
    const chunk = new Uint8Array(1024 * 1024).fill(120)
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        // 30 MB at once, then the rest trickles so the crash lands mid-body.
        if (sent >= 30) await new Promise((r) => setTimeout(r, 1000))
        if (sent >= 50) return ctrl.close()
        sent++
        ctrl.enqueue(chunk)
      },
    })
    const upload = fetch(`${s.url}/api/instances/${id}/files/upload?path=/workspace/up/big.bin`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/octet-stream',
        'content-length': String(50 * 1024 * 1024),
      },
      body,
      duplex: 'half',
    } as RequestInit).catch((err: unknown) => err)
    // The temporary part is there and growing before the crash.
    let listing = ''
    await waitFor(
      () => `a growing .part file, ${sent} chunks sent; listing: ${JSON.stringify(listing)}`,
      async () => {
        listing = (await s.exec(id, 'ls -a /workspace/up', {}, key)).stdout
        return /\.big\.bin\.\w+\.part/.test(listing) && sent >= 30
      },
    )

    await crashAndRestart()
    await upload

    const files = await s.api('GET', `/api/instances/${id}/files?path=/workspace/up`, { key })
    expect(files.status).toBe(200)
    expect(files.body.entries).toEqual([])
    const ls = await s.exec(id, 'ls -A /workspace/up', {}, key)
    expect(ls.stdout).toBe('')
  }, 240_000)
})
