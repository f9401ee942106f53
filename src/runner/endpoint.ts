import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { z } from 'zod'
import { connectDoor } from '../door/connect.js'
import { RUNNER_ANSWER_HEADER, runnerAnswerMark, TransportLink } from '../door/transport.js'
import type { LocalDriver } from '../drivers/local/local-driver.js'
import { errnoCode } from '../lib/errno.js'
import { readBody, sendJson } from '../lib/http-body.js'
import type { Logger } from '../log.js'
import { bearerMatches } from './auth.js'
import type { RunnerIdentity } from './cert.js'
import { passOn } from './headers.js'

/** Instance ids are UUIDs: nothing else reaches a path on this host. */
const INSTANCE_PATH = /^\/v1\/instances\/([0-9a-f-]{36})(\/.*)?$/

const MAX_JSON_BODY = 64 * 1024

/** System errors that mean the clawlet is not there (not up yet, stopped) or not the instance's. */
const CLAWLET_DOWN = new Set(['ECONNREFUSED', 'ENOENT', 'EPEERREJECTED'])

/** What the endpoint does for an instance's door (the runner's own part). */
export interface RunnerDoors {
  open(instanceId: string, hostUid: number): Promise<void>
  close(instanceId: string): Promise<void>
  alive(instanceId: string): Promise<boolean>
}

export interface EndpointOptions {
  identity: RunnerIdentity
  /** What replicas present (`replicaCredential(token)`). */
  credential: string
  driver: LocalDriver
  doors: RunnerDoors
  log: Logger
  health: () => Record<string, unknown>
}

/**
 * The runner's one endpoint (HTTPS and WebSocket, its own pinned certificate, the replicas'
 * credential on every request): any replica reaches every instance's clawlet on this host
 * through it (exec, files, terminal, desktop, gateway), streamed both ways with backpressure,
 * and asks the host about a sandbox (state, logs, usage) or its door.
 */
export function createEndpoint(opts: EndpointOptions): https.Server {
  const { driver, log } = opts
  const mark = runnerAnswerMark(opts.credential)
  /** An answer of the runner's own, marked so that replicas never take it for a clawlet's. */
  const own = (res: ServerResponse, answer: Answer) => {
    res.setHeader(RUNNER_ANSWER_HEADER, mark)
    sendJson(res, answer.status, answer.body)
  }
  const links = new Map<string, TransportLink>()
  const linkOf = (id: string) => {
    let link = links.get(id)
    if (!link) {
      link = new TransportLink(driver.unixEndpoint(id), { keepAlive: true, maxFreeSockets: 16 })
      links.set(id, link)
    }
    return link
  }
  const server = https.createServer(
    { key: opts.identity.key, cert: opts.identity.cert, requestTimeout: 0, keepAliveTimeout: 60_000 },
    (req, res) => {
      if (!bearerMatches(req.headers.authorization, opts.credential)) {
        log.warn({ address: req.socket.remoteAddress }, 'runner endpoint: credential refused')
        return sendJson(res, 401, { message: 'Not a replica of this control plane.', code: 'unauthorized' })
      }
      void route(req, res).catch((err: unknown) => {
        const answer = failure(err)
        // A clawlet not up yet (a boot polls it) or gone (a stop) is no fault of the runner's.
        if (answer.status === 503)
          log.debug(
            { code: errnoCode(err), url: req.url?.split('?')[0] },
            'runner endpoint: clawlet not answering',
          )
        else log.warn({ err, url: req.url?.split('?')[0] }, 'runner endpoint: request failed')
        if (res.headersSent) return void res.destroy()
        own(res, answer)
      })
    },
  )
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    const m = INSTANCE_PATH.exec(new URL(req.url ?? '/', 'https://runner').pathname)
    if (!bearerMatches(req.headers.authorization, opts.credential) || !m?.[2]?.startsWith('/clawlet/')) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
      return
    }
    const id = m[1] as string
    const rest = (req.url as string).slice((req.url as string).indexOf('/clawlet/') + '/clawlet'.length)
    connectDoor(driver.unixEndpoint(id), (err, upstream) => {
      if (err || !upstream) {
        const { status, body } = failure(err)
        const text = JSON.stringify(body)
        socket.end(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${RUNNER_ANSWER_HEADER}: ${mark}\r\n` +
            `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
            `connection: close\r\n\r\n${text}`,
        )
        return
      }
      // The upgrade request as the clawlet should see it, then the two sockets joined.
      const lines = [
        `${req.method} ${rest} HTTP/1.1`,
        'host: clawlet',
        'connection: Upgrade',
        'upgrade: websocket',
      ]
      for (const [name, value] of Object.entries(passOn(req.headers)))
        lines.push(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`)
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`)
      if (head.length) upstream.write(head)
      upstream.on('error', () => socket.destroy())
      socket.pipe(upstream).pipe(socket)
      socket.on('close', () => upstream.destroy())
      upstream.on('close', () => socket.destroy())
    })
  })

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://runner')
    if (url.pathname === '/v1/health' && req.method === 'GET') return sendJson(res, 200, opts.health())
    const m = INSTANCE_PATH.exec(url.pathname)
    if (!m) return own(res, noRoute(req.method, url.pathname))
    const id = m[1] as string
    const sub = m[2] ?? '/'
    if (sub.startsWith('/clawlet/'))
      return proxy(id, req, res, `${sub.slice('/clawlet'.length)}${url.search}`)
    if (sub === '/state' && req.method === 'GET') return sendJson(res, 200, await driver.inspect(id))
    if (sub === '/door') {
      if (req.method === 'GET') return sendJson(res, 200, { alive: await opts.doors.alive(id) })
      if (req.method === 'DELETE') {
        await opts.doors.close(id)
        return sendJson(res, 200, { ok: true })
      }
      if (req.method === 'PUT') {
        const body = z.object({ host_uid: z.number().int().min(1) }).parse(await readJson(req))
        await opts.doors.open(id, body.host_uid)
        return sendJson(res, 200, { ok: true })
      }
    }
    if (sub === '/log' && req.method === 'POST') {
      const read = z
        .object({
          source: z.string(),
          tail: z.number().int().min(0).max(100_000).optional(),
          cursor: z.unknown().optional(),
        })
        .parse(await readJson(req))
      return sendJson(res, 200, driver.readLog(id, read as Parameters<LocalDriver['readLog']>[1]))
    }
    if (sub === '/usage' && req.method === 'GET')
      return sendJson(res, 200, { usage: await driver.sampleResources(id) })
    if (sub === '/oom' && req.method === 'GET')
      return sendJson(res, 200, { oom_kills: await driver.oomKills(id) })
    return own(res, noRoute(req.method, url.pathname))
  }

  async function proxy(id: string, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const upstream = linkOf(id).request({ method: req.method ?? 'GET', path, headers: passOn(req.headers) })
    const answered = new Promise<void>((resolve, reject) => {
      upstream.once('response', (answer) => {
        res.writeHead(answer.statusCode ?? 502, passOn(answer.headers))
        pipeline(answer, res).then(resolve, reject)
      })
      upstream.once('error', reject)
    })
    // A client that goes away cancels the clawlet's side too.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy()
    })
    await Promise.all([pipeline(req, upstream), answered])
  }

  server.on('close', () => {
    for (const link of links.values()) link.close()
    links.clear()
  })
  return server
}

class BodyTooLarge extends Error {}

interface Answer {
  status: number
  body: Record<string, unknown>
}

function noRoute(method: string | undefined, pathname: string): Answer {
  return { status: 404, body: { message: `No route ${method} ${pathname}.`, code: 'not_found' } }
}

/**
 * The runner's answer for a request that failed. A system error met reaching the clawlet is
 * named (`details.errno`): a replica takes it as if it had met it on its own host, so a stopped
 * instance fails alike wherever it runs.
 */
function failure(err: unknown): Answer {
  // A request the endpoint cannot read is the caller's mistake, not the runner's.
  if (err instanceof SyntaxError || err instanceof z.ZodError || err instanceof BodyTooLarge)
    return { status: 400, body: { message: `Bad request: ${errorText(err)}`, code: 'bad_request' } }
  const code = errnoCode(err)
  const errno = code && /^E[A-Z0-9_]+$/.test(code) ? code : undefined
  const details = errno ? { details: { errno } } : {}
  if (errno && CLAWLET_DOWN.has(errno)) {
    // A peer refused says why (as on the replica's own host); a missing socket names no host path.
    const message = errno === 'EPEERREJECTED' ? errorText(err) : "The instance's clawlet is not answering."
    return { status: 503, body: { message, code: 'instance_unavailable', ...details } }
  }
  return { status: 502, body: { message: errorText(err), code: 'runner_failed', ...details } }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, MAX_JSON_BODY, () => new BodyTooLarge('request body too large'))
  const text = body.toString('utf8')
  return text ? JSON.parse(text) : {}
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
