import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { childrenOf } from '../src/drivers/local/launch.js'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

interface Received {
  path: string
  headers: IncomingHttpHeaders
  body: string
  answered: number
}

/** A receiver's own check of a delivery, written from the documented scheme alone. */
function signedBy(secret: string, r: Received): boolean {
  const header = String(r.headers['x-clawport-signature'])
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header)
  if (!m) return false
  const [, t, v1] = m as unknown as [string, string, string]
  if (Math.abs(Date.now() / 1000 - Number(t)) > 300) return false
  const want = createHmac('sha256', secret).update(`${t}.${r.body}`).digest()
  return timingSafeEqual(want, Buffer.from(v1, 'hex'))
}

describe('lifecycle events of real instances, delivered to webhooks', () => {
  let s: TestServer
  let receiver: Server
  let base: string
  const received: Received[] = []
  /** Paths whose first delivery is answered 500. */
  const failFirst = new Set<string>(['/flaky'])
  const ids: Array<{ id: string; key: string }> = []
  /** A webhook's delivery log once its newest delivery is delivered. */
  const delivered = (hookId: string) =>
    waitFor(
      'the delivery to be logged as delivered',
      async () => {
        const l = (await s.api('GET', `/api/webhooks/${hookId}/deliveries`)).body
        return l[0]?.status === 'delivered' && l
      },
      { timeoutMs: 10_000 },
    )

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const path = req.url ?? '/'
        const answered = path === '/redirect' ? 307 : failFirst.delete(path) ? 500 : 200
        received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString(), answered })
        res.writeHead(answered, { location: '/redirected' }).end(answered === 200 ? 'ok' : 'not now')
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
    // The receiver is on loopback: the operator setting that allows private model URLs allows it.
    s = await startServer({ ...TEST_ENV, CLAWPORT_MODEL_PRIVATE_URLS: 'allow' })
  }, 90_000)
  afterAll(async () => {
    for (const { id, key } of ids) await s?.api('DELETE', `/api/instances/${id}`, { key }).catch(() => {})
    await s?.destroy()
    receiver?.closeAllConnections()
    receiver?.close()
  })

  const eventsOf = async (id: string, key = s.adminKey) =>
    (await s.api('GET', `/api/instances/${id}/events`, { key })).body as Array<{
      type: string
      reason: string | null
      data: Record<string, unknown>
      cursor: number
    }>

  it('reports a crash (the clawlet killed from the host) as an event and as a signed webhook', async () => {
    const hook = await s.api('POST', '/api/webhooks', { body: { url: `${base}/crash`, events: ['crashed'] } })
    expect(hook.status).toBe(201)
    const { id } = await s.readyInstance()
    ids.push({ id, key: s.adminKey })
    const before = (await s.api('GET', `/api/instances/${id}/status`)).body
    const [init] = await childrenOf(before.sandbox.pid)
    const [clawlet] = await childrenOf(init as number)
    expect(readFileSync(`/proc/${clawlet}/cmdline`, 'utf8')).toContain('dist/clawlet/main.js')
    process.kill(clawlet as number, 'SIGKILL')
    const crashed = await waitFor(
      'a crashed event',
      async () => (await eventsOf(id)).find((e) => e.type === 'crashed'),
      {
        timeoutMs: 30_000,
      },
    )
    expect(crashed.reason).toMatch(/SIGKILL/)
    expect(crashed.data).toMatchObject({ signal: 'SIGKILL', oom_killed: false })
    // The supervisor starts it again, and says so.
    await waitFor(
      'restarted and ready events after the crash',
      async () => {
        const types = (await eventsOf(id)).filter((e) => e.cursor > crashed.cursor).map((e) => e.type)
        return types.includes('restarted') && types.includes('ready')
      },
      { timeoutMs: 60_000 },
    )
    const got = await waitFor('the crash webhook', () => received.find((r) => r.path === '/crash'), {
      timeoutMs: 30_000,
    })
    expect(signedBy(hook.body.secret, got)).toBe(true)
    expect(signedBy('whsec_wrong', got)).toBe(false)
    expect(got.headers['x-clawport-event']).toBe('crashed')
    const body = JSON.parse(got.body)
    expect(body).toMatchObject({
      type: 'crashed',
      instance_id: id,
      cursor: crashed.cursor,
      reason: crashed.reason,
    })
    const log = (await s.api('GET', `/api/webhooks/${hook.body.id}/deliveries`)).body
    expect(log[0]).toMatchObject({
      event_type: 'crashed',
      status: 'delivered',
      attempts: 1,
      last_status: 200,
    })
    expect(JSON.stringify(log)).not.toContain(hook.body.secret)
  }, 150_000)

  it('reports an OOM kill as such', async () => {
    const key = await s.user('tiny@example.com', 'tiny')
    const { id } = await s.readyInstance(key)
    ids.push({ id, key })
    // `tail` keeps a line in memory until it ends, and /dev/zero has no newline.
    const hog = await s.exec(id, 'head -c 1000m /dev/zero | tail > /dev/null', {}, key)
    expect(hog.exit_code).not.toBe(0)
    const oom = await waitFor(
      'an oom_killed event',
      async () => (await eventsOf(id, key)).find((e) => e.type === 'oom_killed'),
      { timeoutMs: 30_000 },
    )
    expect(oom.reason).toMatch(/out of memory/)
    expect(oom.data).toMatchObject({ memory_limit_mb: 160 })
    expect(Number(oom.data.kills)).toBeGreaterThanOrEqual(1)
  }, 120_000)

  it('retries a delivery the receiver first answers 500, with the same signed body', async () => {
    const hook = await s.api('POST', '/api/webhooks', { body: { url: `${base}/flaky`, events: ['stopped'] } })
    const moved = await s.api('POST', '/api/webhooks', {
      body: { url: `${base}/redirect`, events: ['stopped'] },
    })
    const { id } = ids[0] as { id: string }
    expect((await s.api('POST', `/api/instances/${id}/shutdown`)).status).toBeLessThan(300)
    const tries = await waitFor(
      'two deliveries to /flaky',
      () => {
        const r = received.filter((x) => x.path === '/flaky')
        return r.length >= 2 && r
      },
      { timeoutMs: 30_000 },
    )
    expect(tries.map((r) => r.answered)).toEqual([500, 200])
    expect(tries[1]?.body).toBe(tries[0]?.body)
    expect(tries[1]?.headers['x-clawport-delivery']).toBe(tries[0]?.headers['x-clawport-delivery'])
    for (const r of tries) expect(signedBy(hook.body.secret, r)).toBe(true)
    const log = await delivered(hook.body.id)
    expect(log[0]).toMatchObject({ event_type: 'stopped', attempts: 2, last_status: 200, last_error: null })
    // A redirect is an answer that is not 2xx: it is never followed.
    const redirected = (await s.api('GET', `/api/webhooks/${moved.body.id}/deliveries`)).body
    expect(redirected[0]).toMatchObject({ status: 'pending', last_status: 307 })
    expect(received.some((r) => r.path === '/redirected')).toBe(false)
    await s.api('DELETE', `/api/webhooks/${moved.body.id}`)
  }, 60_000)

  it('keeps undelivered events queued in the store through a kill -9 of the server', async () => {
    // A port nothing listens on yet: every attempt fails until the receiver is there.
    const spare = createServer()
    await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r))
    const port = (spare.address() as AddressInfo).port
    await new Promise((r) => spare.close(r))
    const hook = await s.api('POST', '/api/webhooks', {
      body: { url: `http://127.0.0.1:${port}/later`, events: ['ready'] },
    })
    const { id } = ids[0] as { id: string }
    expect((await s.api('POST', `/api/instances/${id}/start`)).status).toBeLessThan(300)
    const failed = await waitFor(
      'a failed delivery attempt',
      async () => {
        const l = (await s.api('GET', `/api/webhooks/${hook.body.id}/deliveries`)).body
        return l[0]?.attempts >= 1 && l[0]
      },
      { timeoutMs: 60_000 },
    )
    expect(failed).toMatchObject({ status: 'pending', last_status: null })
    expect(failed.last_error).toMatch(/ECONNREFUSED/)
    await s.kill9()
    const later: string[] = []
    const late = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => {
        body += c.toString()
      })
      req.on('end', () => {
        later.push(body)
        res.end('ok')
      })
    })
    await new Promise<void>((r) => late.listen(port, '127.0.0.1', r))
    try {
      await s.start()
      await waitFor('a delivery to the restarted receiver', () => later.length > 0, { timeoutMs: 30_000 })
      expect(JSON.parse(later[0] as string)).toMatchObject({ type: 'ready', instance_id: id })
      const log = await delivered(hook.body.id)
      expect(log[0].attempts).toBeGreaterThanOrEqual(2)
    } finally {
      late.closeAllConnections()
      late.close()
    }
  }, 120_000)
})
