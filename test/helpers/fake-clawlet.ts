import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Duplex } from 'node:stream'
import { Readable } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'

const MiB = 1024 * 1024

/** A hostile clawlet: a plain HTTP server on a Unix socket whose answers each test sets. */
export interface FakeClawlet {
  socketPath: string
  /** Answers every HTTP request (replace it per test). */
  handle: (req: IncomingMessage, res: ServerResponse) => void
  /** Runs for every WebSocket it accepts (replace it per test). */
  onSocket: (ws: WebSocket, req: IncomingMessage) => void
  /** When set, upgrades are refused with this raw HTTP answer (and these headers). */
  refuseUpgrade?: { status: number; body: string; headers?: Record<string, string> }
  /** Bytes its lazy bodies produced so far: what the reader really pulled. */
  produced: number
  stop(): Promise<void>
}

export async function startFakeClawlet(): Promise<FakeClawlet> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-clawlet-'))
  const socketPath = path.join(dir, 'clawlet.sock')
  const wss = new WebSocketServer({ noServer: true })
  const fake: FakeClawlet = {
    socketPath,
    handle: (_req, res) => res.writeHead(500).end(),
    onSocket: (ws) => ws.close(),
    produced: 0,
    stop: async () => {
      for (const ws of wss.clients) ws.terminate()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await rm(dir, { recursive: true, force: true })
    },
  }
  const server: Server = createServer((req, res) => fake.handle(req, res))
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refusal = fake.refuseUpgrade
    if (refusal) {
      const extra = Object.entries(refusal.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`)
      socket.end(
        `HTTP/1.1 ${refusal.status} No\r\n${extra.join('')}content-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(refusal.body)}\r\nconnection: close\r\n\r\n${refusal.body}`,
      )
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => fake.onSocket(ws, req))
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  return fake
}

/**
 * `totalBytes` of `fill`, made a MiB at a time as the reader pulls (one chunk reused, so the
 * fake itself never holds the body), counted in `fake.produced`.
 */
export function lazyBody(fake: FakeClawlet, totalBytes: number, fill = 'a'): Readable {
  const chunk = Buffer.alloc(MiB, fill)
  let sent = 0
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (sent >= totalBytes) {
        this.push(null)
        return
      }
      const n = Math.min(chunk.length, totalBytes - sent)
      sent += n
      fake.produced += n
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n))
    },
  })
}

/** Sends a head, then one byte every `everyMs` for as long as the reader stays. */
export function trickle(res: ServerResponse, status = 200, everyMs = 100): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.write('{')
  const timer = setInterval(() => res.write(' '), everyMs)
  res.once('close', () => clearInterval(timer))
}

/** A JSON answer. */
export function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Resident memory of this process in MiB. */
export function rssMiB(): number {
  return process.memoryUsage().rss / MiB
}
