import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { publicOnly } from '../src/broker/egress.js'
import { type InProcess, inProcess } from './helpers/app.js'

/** A server on every loopback address (IPv4 and IPv6) that counts what reaches it. */
interface Target {
  server: Server
  port: number
  connections: number
  requests: string[]
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  return (server.address() as AddressInfo).port
}

async function startTarget(): Promise<Target> {
  const t = { connections: 0, requests: [] as string[] } as Target
  t.server = createServer((req, res) => {
    t.requests.push(`${req.method} ${req.url}`)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"secret":"host-only"}')
  })
  t.server.on('connection', () => t.connections++)
  // '::' takes IPv4 too on Linux, so 127.0.0.1, ::1 and ::ffff:127.0.0.1 all reach it.
  t.port = await listen(t.server, '::')
  return t
}

function chat(doorUrl: string, caller: string): Promise<Response> {
  return fetch(`${doorUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-test-caller': caller },
    body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'hi' }] }),
  })
}

describe('the model broker reaches only where the model URL says', () => {
  let target: Target
  let redirector: Server
  let redirectorPort: number
  let redirects = 0
  let strict: InProcess
  let open: InProcess
  let door: Server
  let doorUrl: string

  beforeAll(async () => {
    target = await startTarget()
    // A model server that sends every call on to the host's own loopback service.
    redirector = createServer((_req, res) => {
      redirects++
      res.writeHead(307, { location: `http://127.0.0.1:${target.port}/v1/chat/completions` })
      res.end()
    })
    redirectorPort = await listen(redirector, '127.0.0.1')
    strict = await inProcess({
      CLAWPORT_LLM_BASE_URL: `http://127.0.0.1:${redirectorPort}/v1`,
      CLAWPORT_LLM_MODEL: 'op-model',
    })
    open = await inProcess({ CLAWPORT_MODEL_PRIVATE_URLS: 'allow' })
    // Calls into the broker the way an instance's door makes them, for a user of either server.
    door = createServer((req, res) => {
      const [server, userId] = String(req.headers['x-test-caller']).split(':') as [string, string]
      const app = server === 'open' ? open : strict
      void app.services.broker.handle({ instanceId: 'test-instance', userId }, req, res, req.url ?? '/')
    })
    doorUrl = `http://127.0.0.1:${await listen(door, '127.0.0.1')}`
  })
  afterAll(async () => {
    await Promise.all([strict?.close(), open?.close()])
    for (const s of [door, redirector, target?.server]) {
      s?.closeAllConnections()
      s?.close()
    }
  })

  it("answers a user model's redirect as an upstream error and never follows it", async () => {
    const key = await open.user('redirect@example.com', 'pro')
    // A name, not a literal: what a user would set for a model somewhere on the internet.
    const base_url = `http://${os.hostname()}:${redirectorPort}/v1`
    expect((await open.inject('PUT', '/api/me/model', key, { base_url, model: 'm' })).status).toBe(200)
    const user = await open.services.store.users.byEmail('redirect@example.com')
    const res = await chat(doorUrl, `open:${user?.id}`)
    expect(res.status).toBe(502)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('upstream_error')
    expect(body.error.message).toMatch(/307, a redirect/)
    expect(redirects).toBe(1)
    expect(target.requests).toEqual([])
  })

  it("does not follow the operator's model either", async () => {
    const user = await strict.services.accounts.createUser({ email: 'op-redirect@example.com' })
    const before = redirects
    const res = await chat(doorUrl, `strict:${user.id}`)
    expect(res.status).toBe(502)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_error')
    expect(redirects).toBe(before + 1)
    expect(target.requests).toEqual([])
  })

  it('refuses to connect to a private address literal in any spelling, before any connection', async () => {
    for (const host of [
      '127.0.0.1',
      '127.1',
      '0x7f.1',
      '2130706433',
      '0.0.0.0',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[::ffff:7f00:1]',
    ]) {
      const err = await fetch(`http://${host}:${target.port}/v1/models`, { dispatcher: publicOnly } as object)
        .then(() => undefined)
        .catch((e: Error & { cause?: { code?: string; message?: string } }) => e)
      expect(err?.cause?.code, host).toBe('EADDRNOTALLOWED')
      expect(err?.cause?.message, host).toMatch(/private, loopback or link-local/)
    }
    expect(target.connections).toBe(0)
    expect(target.requests).toEqual([])
  })

  it('refuses a name that resolves to the host at connect time', async () => {
    const before = target.connections
    for (const host of ['localhost', os.hostname()]) {
      const err = await fetch(`http://${host}:${target.port}/v1/models`, { dispatcher: publicOnly } as object)
        .then(() => undefined)
        .catch((e: Error & { cause?: { code?: string } }) => e)
      expect(err?.cause?.code, host).toBe('EADDRNOTALLOWED')
    }
    expect(target.connections).toBe(before)
  })
})
