import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type https from 'node:https'
import { type AddressInfo, connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type WebSocket, WebSocketServer } from 'ws'
import { RelayRegistry } from '../src/core/socket-relay.js'
import { ClawletClient } from '../src/door/clawlet/client.js'
import { GatewayClient } from '../src/door/clawlet/gateway-client.js'
import { RUNNER_ANSWER_HEADER, runnerAnswerMark, type UrlTransport } from '../src/door/transport.js'
import type { LocalDriver } from '../src/drivers/local/local-driver.js'
import { AppError } from '../src/errors.js'
import { createLogger } from '../src/log.js'
import { replicaCredential } from '../src/runner/auth.js'
import { runnerIdentity } from '../src/runner/cert.js'
import { createEndpoint } from '../src/runner/endpoint.js'
import { passOn } from '../src/runner/headers.js'
import {
  answer,
  type FakeClawlet,
  lazyBody,
  rssMiB,
  startFakeClawlet,
  trickle,
} from './helpers/fake-clawlet.js'

const MiB = 1024 * 1024
const HUGE_BYTES = 600 * MiB
/** Short caps, so a stalled answer is cut in half a second. */
const LIMITS = { callMs: 500, idleMs: 400, execMarginMs: 250 }

let fake: FakeClawlet
let client: ClawletClient
let gateway: GatewayClient

beforeAll(async () => {
  fake = await startFakeClawlet()
  client = new ClawletClient({ transport: { unix: fake.socketPath }, label: 'inst-h', limits: LIMITS })
  gateway = new GatewayClient({ unix: fake.socketPath }, 'inst-h', LIMITS)
})
afterAll(async () => {
  client?.close()
  await fake?.stop()
})

/** The AppError a promise rejects with, and how long it took. */
async function failure(promise: Promise<unknown>): Promise<{ err: AppError; ms: number }> {
  const started = performance.now()
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`)
  return { err, ms: performance.now() - started }
}

describe('an instance answering 600 MB', () => {
  const calls: Array<[string, () => Promise<unknown>, number, boolean]> = [
    ['a JSON call', () => client.list('.'), 200, false],
    ['the health call (declared length)', () => client.health(), 200, true],
    ['an error answer', () => client.stat('x'), 404, false],
    ['a screenshot', () => client.screenshot(), 200, false],
    ['the gateway state', () => gateway.state(), 200, false],
    ['a gateway error answer', () => gateway.state(), 500, true],
  ]
  for (const [name, call, status, declared] of calls) {
    it(`${name} is refused with 502 at once, the rest never read`, async () => {
      fake.produced = 0
      fake.handle = (_req, res) => {
        res.writeHead(status, declared ? { 'content-length': HUGE_BYTES } : {})
        pipeline(lazyBody(fake, HUGE_BYTES), res, () => {})
      }
      const before = rssMiB()
      const { err } = await failure(call())
      expect({ status: err.status, code: err.code }).toEqual({ status: 502, code: 'clawlet_bad_answer' })
      // A screenshot may legitimately hold up to its cap (64 MiB), and one copy of it.
      expect(rssMiB() - before).toBeLessThan(name === 'a screenshot' ? 200 : 100)
      // What was produced is what the kernel and the caps let through, not the body.
      expect(fake.produced).toBeLessThan(100 * MiB)
    })
  }

  it('a turn event line without end is cut at its cap', async () => {
    fake.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      pipeline(lazyBody(fake, HUGE_BYTES), res, () => {})
    }
    fake.produced = 0
    const events = gateway.turn({ session_key: 's', message: 'hi' }, new AbortController().signal)
    const { err } = await failure(events.next())
    expect(err.code).toBe('clawlet_bad_answer')
    expect(fake.produced).toBeLessThan(100 * MiB)
  })
})

describe('an instance that stalls', () => {
  it('a head then a trickle is cut within the time cap', async () => {
    fake.handle = (_req, res) => trickle(res)
    for (const call of [() => client.health(), () => client.stat('x'), () => gateway.state()]) {
      const { err } = await failure(call())
      expect({ status: err.status, code: err.code }).toEqual({ status: 503, code: 'instance_unavailable' })
    }
  })

  it('an exec is given its own timeout plus the margin, not more', async () => {
    fake.handle = () => {}
    const { err, ms } = await failure(client.exec({ command: 'true', timeout_ms: 250 }))
    expect(err.code).toBe('instance_unavailable')
    expect(ms).toBeGreaterThan(250 + LIMITS.execMarginMs - 50)
  })

  it('an error answer that trickles is cut too', async () => {
    fake.handle = (_req, res) => trickle(res, 404)
    const { err } = await failure(client.remove('x'))
    expect(err.code).toBe('instance_unavailable')
  })

  it('a download that stalls is cut; one whose reader is slow is not', async () => {
    fake.handle = (_req, res) => {
      res.writeHead(200)
      res.write('some bytes')
    }
    const stalled = await client.download('f')
    const cut = await failure(stalled.stream.toArray())
    expect(cut.err.code).toBe('instance_unavailable')

    fake.produced = 0
    fake.handle = (_req, res) => {
      res.writeHead(200, { 'content-length': HUGE_BYTES })
      pipeline(lazyBody(fake, HUGE_BYTES), res, () => {})
    }
    const slow = await client.download('f')
    expect(slow.size).toBe(HUGE_BYTES)
    // The reader waits past the idle cap: backpressure holds the instance, nothing is cut.
    await new Promise((r) => setTimeout(r, LIMITS.idleMs * 2))
    expect(fake.produced).toBeLessThan(50 * MiB)
    let got = 0
    for await (const chunk of slow.stream as AsyncIterable<Buffer>) {
      got += chunk.length
      if (got > 20 * MiB) break
    }
    expect(got).toBeGreaterThan(20 * MiB)
  })
})

describe("an instance's status and codes", () => {
  const refused: Array<[string, number, unknown]> = [
    ['401 with a key error', 401, { code: 'invalid_api_key', message: 'The API key is not valid.' }],
    ['403 with an admin error', 403, { code: 'admin_required', message: 'no' }],
    ['500', 500, { code: 'internal_error', message: 'oops' }],
    ['302', 302, {}],
    ['700', 700, { code: 'path_not_found', message: 'x' }],
    ['404 with a code of another status', 404, { code: 'instance_limit_reached', message: 'x' }],
    ['409 with a code not passed on', 409, { code: 'instance_not_ready', message: 'x' }],
    ['409 with a known code at the wrong status', 409, { code: 'path_not_found', message: 'x' }],
    ['404 that is not JSON', 404, 'not json'],
  ]
  for (const [name, status, body] of refused) {
    it(`${name} becomes 502 clawlet_bad_answer`, async () => {
      fake.handle = (_req, res) =>
        typeof body === 'string' ? res.writeHead(status).end(body) : answer(res, status, body)
      for (const call of [() => client.stat('x'), () => client.remove('x'), () => gateway.state()]) {
        const { err } = await failure(call())
        expect({ status: err.status, code: err.code }).toEqual({ status: 502, code: 'clawlet_bad_answer' })
      }
    })
  }

  it('a 2xx that is not the one asked for is a bad answer, not a success', async () => {
    fake.handle = (_req, res) => answer(res, 299, { code: 'invalid_api_key', message: 'x' })
    for (const call of [() => client.stat('x'), () => client.remove('x'), () => client.screenshot()]) {
      const { err } = await failure(call())
      expect({ status: err.status, code: err.code }).toEqual({ status: 502, code: 'clawlet_bad_answer' })
    }
  })

  it("the instance's own errors about what was asked pass, their message made safe", async () => {
    const message = `\u001b[31m/x\u0000 does not exist.\u202e${'y'.repeat(5000)}`
    fake.handle = (_req, res) => answer(res, 404, { code: 'path_not_found', message })
    const { err } = await failure(client.stat('x'))
    expect({ status: err.status, code: err.code }).toEqual({ status: 404, code: 'path_not_found' })
    expect(err.message.length).toBeLessThan(1100)
    expect([...err.message].filter((ch) => ch < ' ' || ch === '\u202e')).toEqual([])
    expect(err.message).toContain('/x  does not exist.')

    fake.handle = (_req, res) => answer(res, 503, { code: 'instance_resources_exhausted', message: 'full' })
    const busy = await failure(client.exec({ command: 'true', timeout_ms: 100 }))
    expect({ status: busy.err.status, code: busy.err.code }).toEqual({
      status: 503,
      code: 'instance_resources_exhausted',
    })
  })

  it('a refused WebSocket and a turn error keep to the known codes', async () => {
    for (const [status, code] of [
      [401, 'invalid_ticket'],
      [500, 'internal_error'],
      [404, 'instance_not_found'],
    ] as const) {
      fake.refuseUpgrade = { status, body: JSON.stringify({ code, message: 'x' }) }
      const { err } = await failure(client.openSocket('/v1/terminal/ws'))
      expect({ status: err.status, code: err.code }).toEqual({ status: 502, code: 'clawlet_bad_answer' })
    }
    fake.refuseUpgrade = {
      status: 404,
      body: JSON.stringify({ code: 'terminal_session_not_found', message: 'x' }),
    }
    expect((await failure(client.openSocket('/v1/terminal/ws'))).err.code).toBe('terminal_session_not_found')
    fake.refuseUpgrade = undefined

    fake.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      res.end(
        `${JSON.stringify({ type: 'error', code: 'invalid_api_key', message: 'The API key is not valid.' })}\n`,
      )
    }
    const events = gateway.turn({ session_key: 's', message: 'hi' }, new AbortController().signal)
    const first = await events.next()
    expect(first.value).toMatchObject({ type: 'error', code: 'agent_error' })
  })
})

describe('relayed WebSockets', () => {
  let publicServer: ReturnType<typeof createServer>
  let publicWss: WebSocketServer
  let publicPath: string
  const relays = new RelayRegistry(60_000)

  beforeAll(async () => {
    fake.refuseUpgrade = undefined
    publicPath = `${fake.socketPath}.public`
    publicWss = new WebSocketServer({ noServer: true })
    publicServer = createServer()
    publicServer.on('upgrade', (req, socket, head) =>
      publicWss.handleUpgrade(req, socket, head, (ws) => publicWss.emit('connection', ws)),
    )
    await new Promise<void>((resolve) => publicServer.listen(publicPath, resolve))
  })
  afterAll(async () => {
    relays.closeAll(1001, 'test over')
    publicServer?.closeAllConnections()
    await new Promise((resolve) => publicServer?.close(resolve))
  })

  /** The instance sends frames as fast as its socket takes them, counting what it got out. */
  function flood(sent: { bytes: number }) {
    const frame = Buffer.alloc(64 * 1024, 'f')
    return (ws: WebSocket) => {
      const pump = () => {
        while (ws.readyState === ws.OPEN && ws.bufferedAmount < MiB && sent.bytes < 400 * MiB) {
          sent.bytes += frame.length
          ws.send(frame)
        }
        if (ws.readyState === ws.OPEN && sent.bytes < 400 * MiB) setTimeout(pump, 1)
      }
      pump()
    }
  }

  it('a flood is held back while no client is attached, and while the client does not read', async () => {
    const sent = { bytes: 0 }
    fake.onSocket = flood(sent)
    const before = rssMiB()
    const relay = relays.add('inst-h', await client.openSocket('/v1/terminal/ws'))
    await new Promise((r) => setTimeout(r, 1000))
    expect(sent.bytes).toBeLessThan(40 * MiB)

    // A client that upgrades, then never reads a byte.
    const attached = new Promise<WebSocket>((resolve) => publicWss.once('connection', resolve))
    const sock = connect(publicPath, () => {
      sock.write(
        'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      )
      sock.pause()
    })
    relay.attach(await attached)
    await new Promise((r) => setTimeout(r, 1000))
    expect(sent.bytes).toBeLessThan(60 * MiB)
    expect(rssMiB() - before).toBeLessThan(100)
    sock.destroy()
  })

  it('a frame larger than the cap ends the socket instead of being buffered', async () => {
    fake.onSocket = (ws) => ws.send(Buffer.alloc(8 * MiB, 'v'))
    const upstream = await client.openSocket('/v1/terminal/ws')
    const got: number[] = upstream.takeEarly().map(([data]) => data.length)
    upstream.ws.on('message', (data: Buffer) => got.push(data.length))
    const code = await new Promise<number>((resolve) => upstream.ws.once('close', resolve))
    expect(got).toEqual([])
    expect([1006, 1009]).toContain(code)
  })
})

describe('an instance behind a runner', () => {
  const credential = replicaCredential('hostile-clawlet-runner-token-0123456789')
  /** The fake's instance, and one whose clawlet is not running. */
  const here = randomUUID()
  const gone = randomUUID()
  let dir: string
  let endpoint: https.Server
  let transportOf: (id: string) => UrlTransport
  const closers: Array<{ close(): void }> = []

  beforeAll(async () => {
    fake.refuseUpgrade = undefined
    dir = await mkdtemp(path.join(tmpdir(), 'hostile-runner-'))
    const identity = await runnerIdentity(dir, 'hostile')
    // The runner's own part of its driver: where an instance's clawlet listens on its host.
    const driver = {
      unixEndpoint: (id: string) => ({ unix: id === here ? fake.socketPath : path.join(dir, 'gone.sock') }),
    } as unknown as LocalDriver
    endpoint = createEndpoint({
      identity,
      credential,
      driver,
      doors: { open: async () => {}, close: async () => {}, alive: async () => false },
      log: createLogger('silent'),
      health: () => ({}),
    })
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve))
    const { port } = endpoint.address() as AddressInfo
    transportOf = (id) => ({
      url: `https://127.0.0.1:${port}/v1/instances/${id}/clawlet`,
      token: credential,
      pinned: { ca: identity.cert, fingerprint: identity.fingerprint },
    })
  })
  afterAll(async () => {
    fake.refuseUpgrade = undefined
    for (const c of closers) c.close()
    endpoint?.closeAllConnections()
    await new Promise((resolve) => endpoint?.close(resolve))
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const clients = (transport: ConstructorParameters<typeof ClawletClient>[0]['transport'], label: string) => {
    const unreachable = { count: 0 }
    const c = new ClawletClient({
      transport,
      label,
      limits: LIMITS,
      onUnreachable: () => unreachable.count++,
    })
    const g = new GatewayClient(transport, label, LIMITS)
    closers.push(c)
    return { c, g, unreachable }
  }

  it("a clawlet answering as its runner would is still the clawlet's bad answer", async () => {
    const { c, g } = clients(transportOf(here), here)
    const body = {
      code: 'instance_unavailable',
      message: "The instance's clawlet is not answering.",
      details: { errno: 'ENOENT' },
    }
    const text = JSON.stringify(body)
    // Even the runner's real mark: the runner strips it from what it passes on.
    fake.handle = (_req, res) =>
      res
        .writeHead(503, {
          'content-type': 'application/json',
          [RUNNER_ANSWER_HEADER]: runnerAnswerMark(credential),
        })
        .end(text)
    for (const call of [() => c.health(), () => c.remove('x'), () => g.state()]) {
      const { err } = await failure(call())
      expect({ status: err.status, code: err.code }).toEqual({ status: 502, code: 'clawlet_bad_answer' })
    }
    expect(passOn({ [RUNNER_ANSWER_HEADER]: 'x', 'content-type': 'text/plain' })).toEqual({
      'content-type': 'text/plain',
    })
    // A refused upgrade reaches the control plane as the clawlet wrote it: a mark it could
    // make without the replicas' credential is not the runner's.
    for (const guess of ['1', runnerAnswerMark(''), runnerAnswerMark(here)]) {
      fake.refuseUpgrade = { status: 503, body: text, headers: { [RUNNER_ANSWER_HEADER]: guess } }
      const { err } = await failure(c.openSocket('/v1/terminal/ws'))
      expect({ status: err.status, code: err.code }).toEqual({ status: 502, code: 'clawlet_bad_answer' })
    }
    fake.refuseUpgrade = undefined
  })

  it('a clawlet that is not running fails as it does on this host', async () => {
    const local = clients({ unix: path.join(dir, 'gone.sock') }, gone)
    const remote = clients(transportOf(gone), gone)
    const outcome = async (call: () => Promise<unknown>) => {
      const { err } = await failure(call())
      return { status: err.status, code: err.code, message: err.message }
    }
    for (const call of [
      (k: typeof local) => k.c.health(),
      (k: typeof local) => k.c.openSocket('/v1/terminal/ws'),
      (k: typeof local) => k.g.state(),
    ]) {
      const want = await outcome(() => call(local))
      expect(want).toMatchObject({ status: 503, code: 'instance_unavailable' })
      expect(await outcome(() => call(remote))).toEqual(want)
    }
    expect(local.unreachable.count).toBeGreaterThan(0)
    expect(remote.unreachable.count).toBe(local.unreachable.count)
  })
})
