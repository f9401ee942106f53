import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { ClawletClient } from '../src/door/clawlet/client.js'
import { GatewayClient } from '../src/door/clawlet/gateway-client.js'
import type { ClawletTransport } from '../src/door/transport.js'
import { AppError } from '../src/errors.js'
import { answer, startFakeClawlet } from './helpers/fake-clawlet.js'

const TOKEN = 'runner-token-0123456789abcdef'
/** The runner serves each instance's clawlet under a prefix of its own. */
const PREFIX = '/instances/inst-r'

/** What reached the runner, accepted or not. */
interface Seen {
  method: string
  path: string
  authorization?: string
  upgrade: boolean
}

/**
 * A runner in front of a clawlet, on loopback: every request and upgrade must carry its bearer
 * token, or it is refused with 401 before anything runs.
 */
let server: Server
let seen: Seen[]
let ran: string[]
let base: string

function authorized(req: IncomingMessage): boolean {
  return req.headers.authorization === `Bearer ${TOKEN}`
}

beforeAll(async () => {
  const wss = new WebSocketServer({ noServer: true })
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://runner')
    seen.push({
      method: req.method ?? '',
      path: url.pathname,
      authorization: req.headers.authorization,
      upgrade: false,
    })
    if (!authorized(req)) {
      answer(res, 401, { code: 'unauthorized', message: 'Bad token.' })
      return
    }
    const route = `${req.method} ${url.pathname.slice(PREFIX.length)}`
    ran.push(route)
    if (route === 'GET /v1/health') answer(res, 200, { ok: true, pid: 7, uptime_ms: 1, version: 'test' })
    else if (route === 'POST /v1/exec')
      answer(res, 200, { stdout: 'hi\n', stderr: '', exit_code: 0, timed_out: false, duration_ms: 1 })
    else if (route === 'GET /v1/gateway') answer(res, 200, { status: 'ready', restarts: 0 })
    else answer(res, 404, { code: 'path_not_found', message: 'No such path.' })
  })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://runner')
    seen.push({
      method: req.method ?? '',
      path: url.pathname,
      authorization: req.headers.authorization,
      upgrade: true,
    })
    if (!authorized(req)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      return
    }
    ran.push(`WS ${url.pathname.slice(PREFIX.length)}${url.search}`)
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(`echo:${data}`)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PREFIX}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

beforeEach(() => {
  seen = []
  ran = []
})

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`)
  return err
}

describe('a clawlet behind a runner (url transport)', () => {
  it('sends the bearer token on every call, under the URL path', async () => {
    const client = new ClawletClient({ transport: { url: base, token: TOKEN }, label: 'inst-r' })
    try {
      expect((await client.health()).ok).toBe(true)
      expect((await client.exec({ command: 'echo hi' })).stdout).toBe('hi\n')
      expect(ran).toEqual(['GET /v1/health', 'POST /v1/exec'])
      for (const s of seen) {
        expect(s.authorization).toBe(`Bearer ${TOKEN}`)
        expect(s.path.startsWith(`${PREFIX}/v1/`)).toBe(true)
      }
    } finally {
      client.close()
    }
  })

  it('turns a refused token into a clear 503, with nothing run', async () => {
    const client = new ClawletClient({ transport: { url: base, token: 'wrong-token' }, label: 'inst-r' })
    try {
      const err = await failure(client.exec({ command: 'echo hi' }))
      expect(err.status).toBe(503)
      expect(err.code).toBe('instance_unavailable')
      expect(err.message).toContain('inst-r')
      expect(err.message).toContain("refused the control plane's token")
      expect(err.message).not.toContain('wrong-token')
      expect(seen.map((s) => s.authorization)).toEqual(['Bearer wrong-token'])
      expect(ran).toEqual([])
    } finally {
      client.close()
    }
  })

  it('asks its resolver again after a refusal (a rotated token)', async () => {
    const tokens = ['stale-token', TOKEN]
    let asked = 0
    const resolve = async (): Promise<ClawletTransport> => ({ url: base, token: tokens[asked++] ?? TOKEN })
    const client = new ClawletClient({ transport: resolve, label: 'inst-r' })
    try {
      expect((await failure(client.health())).code).toBe('instance_unavailable')
      expect((await client.health()).ok).toBe(true)
      expect((await client.health()).ok).toBe(true)
      // Resolved once per connection failure, not once per call.
      expect(asked).toBe(2)
    } finally {
      client.close()
    }
  })

  it('carries the token on WebSocket upgrades', async () => {
    const client = new ClawletClient({ transport: { url: base, token: TOKEN }, label: 'inst-r' })
    try {
      const { ws, takeEarly } = await client.openSocket('/v1/terminal/ws?session=s1')
      expect(takeEarly()).toEqual([])
      const reply = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))))
      ws.send('ping')
      expect(await reply).toBe('echo:ping')
      ws.close()
      expect(ran).toEqual(['WS /v1/terminal/ws?session=s1'])
      expect(seen).toMatchObject([{ upgrade: true, authorization: `Bearer ${TOKEN}` }])
    } finally {
      client.close()
    }
  })

  it('refuses a WebSocket whose token the runner refused, clearly', async () => {
    const client = new ClawletClient({ transport: { url: base, token: 'wrong-token' }, label: 'inst-r' })
    try {
      const err = await failure(client.openSocket('/v1/terminal/ws'))
      expect(err.code).toBe('instance_unavailable')
      expect(err.message).toContain("refused the control plane's token")
      expect(ran).toEqual([])
    } finally {
      client.close()
    }
  })

  it('reaches the gateway routes the same way', async () => {
    expect((await new GatewayClient({ url: base, token: TOKEN }, 'inst-r').state()).status).toBe('ready')
    expect(seen).toMatchObject([{ path: `${PREFIX}/v1/gateway`, authorization: `Bearer ${TOKEN}` }])
    const err = await failure(new GatewayClient({ url: base, token: 'wrong-token' }, 'inst-r').state())
    expect(err.code).toBe('instance_unavailable')
    expect(err.message).toContain("refused the control plane's token")
  })

  it('says an unreachable runner is unreachable', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const client = new ClawletClient({
      transport: { url: `http://127.0.0.1:${port}`, token: TOKEN },
      label: 'inst-r',
    })
    try {
      const err = await failure(client.health())
      expect(err.code).toBe('instance_unavailable')
      expect(err.message).toContain('inst-r')
    } finally {
      client.close()
    }
  })
})

describe('a clawlet on this host (unix transport)', () => {
  it('checks the peer before a byte is sent, through a resolver too', async () => {
    const fake = await startFakeClawlet()
    let hits = 0
    fake.handle = (_req, res) => {
      hits++
      answer(res, 200, { ok: true, pid: 1, uptime_ms: 1, version: 'test' })
    }
    let refuse = true
    const client = new ClawletClient({
      transport: async () => ({
        unix: fake.socketPath,
        checkPeer: (peer) => (refuse ? `its peer runs as uid ${peer.uid}` : null),
      }),
      label: 'inst-u',
    })
    try {
      const err = await failure(client.health())
      expect(err.code).toBe('instance_unavailable')
      expect(err.message).toContain('could not be verified')
      expect(hits).toBe(0)
      refuse = false
      expect((await client.health()).ok).toBe(true)
      expect(hits).toBe(1)
    } finally {
      client.close()
      await fake.stop()
    }
  })
})
