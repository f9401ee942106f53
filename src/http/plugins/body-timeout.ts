import http from 'node:http'
import net, { type Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body is streamed onwards (an upload): cut when it stalls, not after a total time. */
    streamingBody?: boolean
  }
}

/** A route anyone may call takes small bodies: they get at most this long, whatever the config. */
const PUBLIC_BODY_TIMEOUT_MS = 10_000
/** A streamed body must bring at least this much in every idle window to count as moving. */
export const UPLOAD_MIN_PROGRESS_BYTES = 16 * 1024

export interface BodyTimeouts {
  /** Longest time for headers and the whole body of an ordinary request. */
  requestTimeoutMs: number
  /** A streamed upload is cut after a window this long that brought almost nothing. */
  uploadIdleTimeoutMs: number
}

export const timeoutErrors = {
  requestTimeout: () =>
    new AppError('request_timeout', 'The request was not received in time; send it at a steady pace.'),
  headersTooLarge: () =>
    new AppError('headers_too_large', 'The request headers are larger than this server accepts.'),
  badRequest: () => new AppError('bad_request', 'The request is not valid HTTP.'),
}

/** Node's own server options for what happens before a route is known: slow or huge headers. */
export function serverTimeouts(t: BodyTimeouts): http.ServerOptions {
  return {
    headersTimeout: t.requestTimeoutMs,
    // Node looks for overdue headers only this often; the default (30 s) would blur the limit.
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(t.requestTimeoutMs / 4))),
  }
}

/**
 * Answers the errors Node raises before Fastify sees a request (headers too slow, too large,
 * not HTTP) in the contract's shape instead of Fastify's default one.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const e =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? timeoutErrors.requestTimeout()
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? timeoutErrors.headersTooLarge()
        : timeoutErrors.badRequest()
  const body = JSON.stringify(e.toJSON())
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}

function hasBody(request: FastifyRequest): boolean {
  const len = request.headers['content-length']
  return request.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0')
}

/** Answers 408 if nothing was answered yet, and drops the connection either way. */
function cut(request: FastifyRequest, reply: FastifyReply): void {
  const socket = request.raw.socket
  request.log.info({ url: request.url }, 'request body too slow; connection cut')
  if (reply.raw.headersSent || reply.sent) {
    socket.destroy()
    return
  }
  // Taken over: whatever the route or the body parser does after the cut answers nothing more.
  reply.hijack()
  const body = JSON.stringify(timeoutErrors.requestTimeout().toJSON())
  reply.raw.once('finish', () => socket.destroy())
  reply.raw.writeHead(408, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  })
  reply.raw.end(body)
}

/**
 * Bounds how long a request body may take, so slow senders cannot hold connections: an
 * ordinary body must be complete within the request timeout (public routes: 10 s at most),
 * even when the route already answered (a refused request's body is still read); a streamed
 * upload may take as long as it keeps moving, and is cut after a window in which it brought
 * less than 16 KiB while the server was reading. Requests without a body, SSE and WebSockets
 * are not touched.
 */
export function registerBodyTimeouts(app: FastifyInstance, t: BodyTimeouts): void {
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.raw
    const socket = raw.socket
    // Injected requests (app.inject) have no network connection to hold.
    if (!hasBody(request) || !(socket instanceof net.Socket)) return
    let timer: NodeJS.Timeout
    if (request.routeOptions.config?.streamingBody) {
      let seen = socket.bytesRead
      let held = false
      // A pause is the server's own backpressure (the instance writes slower): not the sender's stall.
      const onPause = () => {
        held = true
      }
      raw.on('pause', onPause)
      raw.once('close', () => raw.off('pause', onPause))
      timer = setInterval(() => {
        const moved = socket.bytesRead - seen
        seen = socket.bytesRead
        const wasHeld = held
        held = false
        // Not flowing: the server is not reading yet (the route has not started), or holds it back.
        if (raw.complete || wasHeld || raw.readableFlowing !== true) return
        if (moved < UPLOAD_MIN_PROGRESS_BYTES) cut(request, reply)
      }, t.uploadIdleTimeoutMs)
    } else {
      const ms = request.routeOptions.config?.public
        ? Math.min(t.requestTimeoutMs, PUBLIC_BODY_TIMEOUT_MS)
        : t.requestTimeoutMs
      timer = setTimeout(() => {
        if (!raw.complete) cut(request, reply)
      }, ms)
    }
    timer.unref()
    const stop = () => clearTimeout(timer)
    raw.once('end', stop)
    raw.once('close', stop)
  })
}
