import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { type RawData, type WebSocket, WebSocketServer } from 'ws'
import { AppError, errors } from '../errors.js'
import type { Desktop } from './desktop.js'
import type { TerminalManager } from './terminal.js'

/** A socket whose unsent bytes pass this stops reading from the other side until it drains. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024
/** How long a VNC connection waits for a desktop that is (re)starting. */
export const DESKTOP_WAIT_MS = 5_000

export interface ClawletSocketsOptions {
  terminal: TerminalManager
  /** Absent when the desktop is off. */
  desktop?: Desktop
  logError?: (err: unknown, route: string) => void
}

/** Refuses an upgrade with a JSON error answer, before any WebSocket exists. */
function refuse(socket: Duplex, err: AppError): void {
  const body = JSON.stringify(err.toJSON())
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  )
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const raw = q.get(name)
  if (raw === null || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n)) throw errors.validation(`${name} must be an integer.`)
  return n
}

/** Connects to the VNC server's socket; rejects when it does not accept. */
function connectVnc(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path)
    s.once('connect', () => {
      s.off('error', reject)
      resolve(s)
    })
    s.once('error', reject)
  })
}

/** Bridges a WebSocket to the VNC server: RFB bytes in binary frames, both ways. */
function bridgeVnc(ws: WebSocket, vnc: Socket): void {
  vnc.on('data', (chunk: Buffer) => {
    ws.send(chunk, { binary: true }, () => {
      if (vnc.isPaused() && ws.bufferedAmount < HIGH_WATER_BYTES / 4) vnc.resume()
    })
    if (ws.bufferedAmount > HIGH_WATER_BYTES) vnc.pause()
  })
  ws.on('message', (data: RawData) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)
    if (!vnc.write(buf)) {
      ws.pause()
      vnc.once('drain', () => ws.resume())
    }
  })
  vnc.on('error', () => {})
  vnc.on('close', () => ws.close(1011, 'the desktop closed the connection'))
  ws.on('close', () => vnc.destroy())
  ws.on('error', () => vnc.destroy())
}

/**
 * Serves the clawlet's WebSockets on its HTTP server: `/v1/terminal/ws` (query session_id,
 * cols, rows) and `/v1/vnc/ws`. Every refusal happens before the upgrade, as a JSON answer.
 */
export function attachSockets(server: Server, opts: ClawletSocketsOptions): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 })
  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://clawlet')
    if (url.pathname === '/v1/terminal/ws') {
      const sid = url.searchParams.get('session_id')
      const cols = intParam(url.searchParams, 'cols')
      const rows = intParam(url.searchParams, 'rows')
      const session = sid ? opts.terminal.get(sid) : opts.terminal.create(cols, rows)
      if (sid && cols !== undefined && rows !== undefined) session.resize(cols, rows)
      wss.handleUpgrade(req, socket, head, (ws) => session.attach(ws))
    } else if (url.pathname === '/v1/vnc/ws') {
      if (!opts.desktop) throw errors.conflict('The desktop is turned off on this server.', 'desktop_off')
      // Right after the instance starts the desktop may still be coming up: give it a moment.
      await opts.desktop.waitReady(DESKTOP_WAIT_MS)
      const vnc = await connectVnc(opts.desktop.socketPath).catch(() => {
        throw errors.desktopUnavailable('its VNC server is not accepting connections yet.')
      })
      if (socket.destroyed) {
        vnc.destroy()
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => bridgeVnc(ws, vnc))
    } else {
      throw errors.routeNotFound(req.method ?? 'GET', url.pathname)
    }
  }
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    upgrade(req, socket, head).catch((err: unknown) => {
      if (!(err instanceof AppError)) opts.logError?.(err, `UPGRADE ${req.url}`)
      refuse(socket, err instanceof AppError ? err : errors.internal())
    })
  })
  return wss
}
