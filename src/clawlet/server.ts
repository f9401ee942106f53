import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { z } from 'zod'
import { AppError, errors } from '../errors.js'
import { sendJson } from '../lib/http-body.js'
import { ExecRequest, type Health } from '../wire/clawlet.js'
import type { Desktop } from './desktop.js'
import { runCommand } from './exec.js'
import {
  listDir,
  makeDir,
  movePath,
  openDownload,
  readFile,
  removePath,
  statPath,
  writeFile,
} from './files.js'
import type { GatewaySupervisor } from './gateway.js'
import { gatewayChannelRoutes } from './gateway-channel-routes.js'
import { gatewayRoutes } from './gateway-routes.js'
import { readJson } from './json-body.js'
import { encodePng } from './png.js'
import { captureFramebuffer } from './rfb.js'
import { DESKTOP_WAIT_MS } from './sockets.js'
import type { TerminalManager } from './terminal.js'

/** What the clawlet's server needs from its entry point. */
export interface ClawletServerOptions {
  version: string
  /** The environment every command starts from (base plus the instance's own variables). */
  execEnv: Readonly<Record<string, string>>
  /** Where failures that are the clawlet's own fault are reported. */
  logError?: (err: unknown, route: string) => void
  /** Terminal sessions (their sockets are served by attachSockets). */
  terminal?: TerminalManager
  /** The supervised desktop; absent when it is turned off. */
  desktop?: Desktop
  /** The supervised OpenClaw gateway; absent when the runtime is not mounted. */
  gateway?: GatewaySupervisor
}

interface Ctx {
  req: IncomingMessage
  res: ServerResponse
  query: URLSearchParams
}

type Handler = (ctx: Ctx) => Promise<void>

const MkdirBody = z.object({ path: z.string() })
const MoveBody = z.object({ from: z.string(), to: z.string(), overwrite: z.boolean().optional() })

function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name)
  return value === '1' || value === 'true'
}

function positiveInt(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name)
  if (raw === null || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < 0)
    throw errors.validation(`${name} must be a non-negative integer.`)
  return value
}

/** Aborts when the caller goes away before the answer is sent. */
function clientGone(res: ServerResponse): AbortSignal {
  const controller = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) controller.abort()
  })
  return controller.signal
}

function routes(opts: ClawletServerOptions): Map<string, Handler> {
  const started = performance.now()
  return new Map<string, Handler>([
    ...(opts.gateway ? gatewayRoutes(opts.gateway) : []),
    ...(opts.gateway ? gatewayChannelRoutes(opts.gateway) : []),
    [
      'GET /v1/health',
      async ({ res }) => {
        const health: Health = {
          ok: true,
          pid: process.pid,
          uptime_ms: Math.round(performance.now() - started),
          version: opts.version,
          desktop: opts.desktop?.health() ?? { status: 'off' },
          ...(opts.gateway ? { gateway: opts.gateway.state() } : {}),
        }
        sendJson(res, 200, health)
      },
    ],
    ['GET /v1/terminal/sessions', async ({ res }) => sendJson(res, 200, opts.terminal?.list() ?? [])],
    [
      'DELETE /v1/terminal/sessions',
      async ({ res, query }) => {
        if (!opts.terminal) throw errors.terminalSessionNotFound(query.get('id') ?? '')
        opts.terminal.close(query.get('id') ?? '')
        res.writeHead(204).end()
      },
    ],
    [
      'GET /v1/desktop/screenshot',
      async ({ res }) => {
        if (!opts.desktop) throw errors.conflict('The desktop is turned off on this server.', 'desktop_off')
        await opts.desktop.waitReady(DESKTOP_WAIT_MS)
        const png = await encodePng(
          await captureFramebuffer(opts.desktop.socketPath).catch((err: unknown) => {
            throw errors.desktopUnavailable(err instanceof Error ? err.message : String(err))
          }),
        )
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length })
        res.end(png)
      },
    ],
    [
      'POST /v1/desktop/sleep',
      async ({ res }) => sendJson(res, 200, (await opts.desktop?.sleep()) ?? { status: 'off' }),
    ],
    [
      'POST /v1/desktop/wake',
      async ({ res }) => sendJson(res, 200, (await opts.desktop?.wake(DESKTOP_WAIT_MS)) ?? { status: 'off' }),
    ],
    [
      'POST /v1/exec',
      async ({ req, res }) => {
        const body = await readJson(req, ExecRequest)
        sendJson(res, 200, await runCommand(body, opts.execEnv, clientGone(res)))
      },
    ],
    [
      'GET /v1/files/list',
      async ({ res, query }) => sendJson(res, 200, await listDir(query.get('path') ?? '.')),
    ],
    [
      'GET /v1/files/stat',
      async ({ res, query }) => sendJson(res, 200, await statPath(query.get('path') ?? '')),
    ],
    [
      'GET /v1/files/read',
      async ({ res, query }) =>
        sendJson(res, 200, await readFile(query.get('path') ?? '', positiveInt(query, 'max_bytes'))),
    ],
    [
      'GET /v1/files/download',
      async ({ res, query }) => {
        const download = await openDownload(query.get('path') ?? '')
        res.writeHead(200, {
          'content-type': download.kind === 'dir' ? 'application/gzip' : 'application/octet-stream',
          'x-clawlet-kind': download.kind,
          ...(download.size === undefined ? {} : { 'content-length': download.size }),
        })
        // A failure mid-stream cannot become an error answer any more: the connection is cut.
        await pipeline(download.stream, res).catch(() => res.destroy())
      },
    ],
    [
      'PUT /v1/files/write',
      async ({ req, res, query }) => {
        const declared = req.headers['content-length']
        const result = await writeFile(query.get('path') ?? '', req, {
          mkdirs: flag(query, 'mkdirs'),
          overwrite: flag(query, 'overwrite'),
          maxBytes: positiveInt(query, 'max_bytes'),
          declaredBytes: declared === undefined ? undefined : Number(declared),
        })
        sendJson(res, 200, result)
      },
    ],
    [
      'POST /v1/files/mkdir',
      async ({ req, res }) => sendJson(res, 200, await makeDir((await readJson(req, MkdirBody)).path)),
    ],
    [
      'DELETE /v1/files',
      async ({ res, query }) => {
        await removePath(query.get('path') ?? '', flag(query, 'recursive'))
        res.writeHead(204).end()
      },
    ],
    [
      'POST /v1/files/move',
      async ({ req, res }) => {
        const body = await readJson(req, MoveBody)
        sendJson(res, 200, await movePath(body.from, body.to, body.overwrite ?? false))
      },
    ],
  ])
}

/** How long a refused upload's connection keeps discarding the body before it is cut. */
const REFUSED_UPLOAD_LINGER_MS = 1_000

function sendError(ctx: Ctx, err: unknown, opts: ClawletServerOptions): void {
  const { req, res } = ctx
  let appError: AppError
  if (err instanceof AppError) appError = err
  else {
    opts.logError?.(err, `${req.method} ${req.url}`)
    appError = errors.internal()
  }
  if (res.headersSent || res.destroyed) {
    res.destroy()
    return
  }
  // A refused upload's unread body is discarded for a short linger, then the connection is cut
  // (not drained in full). Cut at once, the sender's next write fails (EPIPE) before it has
  // read this answer; with the answer read, the control plane stops sending and drops the
  // connection itself. (No `connection: close`: Node would then cut it as the answer ends.)
  if (!req.complete) {
    res.once('finish', () => {
      if (req.complete) return
      const cut = setTimeout(() => req.socket.destroy(), REFUSED_UPLOAD_LINGER_MS)
      const keep = () => clearTimeout(cut)
      req.once('end', keep)
      req.socket.once('close', keep)
      req.resume()
    })
  }
  for (const [name, value] of Object.entries(appError.headers ?? {})) res.setHeader(name, value)
  sendJson(res, appError.status, appError.toJSON())
}

/** The clawlet's HTTP server (plain node:http so it starts in milliseconds). */
export function createClawletServer(opts: ClawletServerOptions): Server {
  const table = routes(opts)
  const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://clawlet')
    } catch {
      url = new URL('http://clawlet/')
    }
    const ctx: Ctx = { req, res, query: url.searchParams }
    // Once the server is closing, kept-alive connections end after their current answer.
    if (!server.listening) res.setHeader('connection', 'close')
    const handler = table.get(`${req.method} ${url.pathname}`)
    const run = handler ?? (async () => Promise.reject(errors.routeNotFound(req.method ?? '?', url.pathname)))
    run(ctx).catch((err: unknown) => sendError(ctx, err, opts))
  })
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')
    else socket.destroy()
  })
  return server
}
