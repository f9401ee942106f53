import { randomBytes } from 'node:crypto'
import { type IPty, spawn as spawnPty } from '@lydell/node-pty'
import type { RawData, WebSocket } from 'ws'
import { errors } from '../errors.js'
import type { TerminalSessionInfo } from '../wire/clawlet.js'
import { inWorkload } from './workload.js'

/** Output kept per session and replayed to a client that attaches (at least 256 KiB). */
export const REPLAY_BUFFER_BYTES = 512 * 1024
/** A session with no client is ended after this long. */
export const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60_000
/** An exited session stays listed this long, so a reattaching client still learns the exit code. */
export const EXITED_KEEP_MS = 60_000
export const MAX_SESSIONS = 32
export const MAX_DIMENSION = 1000
/** A client whose unsent output passes this pauses the shell until it drains. */
const HIGH_WATER_BYTES = 1024 * 1024
const KILL_GRACE_MS = 2_000

export interface TerminalOptions {
  env: Readonly<Record<string, string>>
  cwd: string
  idleTimeoutMs?: number
}

/** Keeps the last `cap` bytes written to it. */
class ReplayBuffer {
  private chunks: Buffer[] = []
  private bytes = 0
  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.bytes += chunk.length
    while (this.bytes > this.cap) {
      const first = this.chunks[0] as Buffer
      const excess = this.bytes - this.cap
      if (first.length <= excess) {
        this.chunks.shift()
        this.bytes -= first.length
      } else {
        this.chunks[0] = first.subarray(excess)
        this.bytes -= excess
      }
    }
  }

  contents(): Buffer {
    return Buffer.concat(this.chunks, this.bytes)
  }
}

function control(ws: WebSocket, msg: Record<string, unknown>): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg))
}

/** One login shell in a PTY, shared by any number of sockets. */
export class TerminalSession {
  readonly id = `term_${randomBytes(9).toString('base64url')}`
  readonly createdAt = new Date().toISOString()
  lastActivityAt = this.createdAt
  exitCode: number | null = null
  exited = false
  readonly clients = new Set<WebSocket>()
  private readonly replay = new ReplayBuffer(REPLAY_BUFFER_BYTES)
  private readonly pty: IPty
  private timer?: NodeJS.Timeout
  private paused = false

  constructor(
    cols: number,
    rows: number,
    opts: TerminalOptions,
    private readonly onEnd: (s: TerminalSession) => void,
    private readonly idleMs: number,
  ) {
    // No setsid wrapper: node-pty makes the shell a session leader with the PTY as its
    // controlling terminal, which job control and SIGWINCH need.
    this.pty = spawnPty(...inWorkload('/bin/bash', ['-l']), {
      name: 'xterm-256color',
      cols,
      rows,
      cwd: opts.cwd,
      env: { ...opts.env, SHELL: '/bin/bash', TERM: 'xterm-256color' },
      encoding: null,
    })
    this.pty.onData((data) => this.output(data as unknown as Buffer))
    this.pty.onExit(({ exitCode, signal }) => this.ended(signal ? 128 + signal : exitCode))
    this.armIdle()
  }

  get pid(): number {
    return this.pty.pid
  }

  get cols(): number {
    return this.pty.cols
  }

  get rows(): number {
    return this.pty.rows
  }

  info(): TerminalSessionInfo {
    return {
      id: this.id,
      pid: this.pid,
      cols: this.cols,
      rows: this.rows,
      clients: this.clients.size,
      created_at: this.createdAt,
      last_activity_at: this.lastActivityAt,
      exited: this.exited,
      exit_code: this.exitCode,
    }
  }

  /** Adds a socket: `ready` first, then the replay, then live output. */
  attach(ws: WebSocket): void {
    clearTimeout(this.timer)
    this.clients.add(ws)
    control(ws, { type: 'ready', session_id: this.id, cols: this.cols, rows: this.rows })
    const replay = this.replay.contents()
    if (replay.length > 0) ws.send(replay, { binary: true })
    if (this.exited) {
      control(ws, { type: 'exit', code: this.exitCode })
      ws.close(1000, 'shell exited')
      return
    }
    ws.on('message', (data, isBinary) => this.input(data, isBinary))
    ws.once('close', () => {
      this.clients.delete(ws)
      this.maybeResume()
      if (this.clients.size === 0) this.armIdle()
    })
  }

  resize(cols: number, rows: number): void {
    if (this.exited) return
    if (!validDimension(cols) || !validDimension(rows)) return
    if (cols !== this.cols || rows !== this.rows) this.pty.resize(cols, rows)
  }

  /** Ends the shell (HUP, then KILL); clients see `exit`. */
  kill(): void {
    if (this.exited) return
    try {
      this.pty.kill('SIGHUP')
    } catch {
      // Already gone.
    }
    setTimeout(() => {
      if (this.exited) return
      try {
        this.pty.kill('SIGKILL')
      } catch {}
    }, KILL_GRACE_MS).unref()
  }

  private input(data: RawData, isBinary: boolean): void {
    if (this.exited) return
    this.lastActivityAt = new Date().toISOString()
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)
    if (isBinary) {
      this.pty.write(buf as unknown as string)
      return
    }
    let msg: { type?: unknown; cols?: unknown; rows?: unknown }
    try {
      msg = JSON.parse(buf.toString('utf8'))
    } catch {
      return
    }
    // Unknown control messages are ignored so newer clients work with older servers.
    if (msg?.type === 'resize') this.resize(Number(msg.cols), Number(msg.rows))
  }

  private output(data: Buffer): void {
    this.replay.push(data)
    for (const ws of this.clients) {
      if (ws.readyState !== ws.OPEN) continue
      ws.send(data, { binary: true }, () => this.maybeResume())
      if (ws.bufferedAmount > HIGH_WATER_BYTES && !this.paused) {
        this.paused = true
        this.pty.pause()
      }
    }
  }

  private maybeResume(): void {
    if (!this.paused) return
    for (const ws of this.clients)
      if (ws.readyState === ws.OPEN && ws.bufferedAmount > HIGH_WATER_BYTES / 4) return
    this.paused = false
    this.pty.resume()
  }

  private ended(code: number): void {
    if (this.exited) return
    this.exited = true
    this.exitCode = code
    for (const ws of this.clients) {
      control(ws, { type: 'exit', code })
      ws.close(1000, 'shell exited')
    }
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.onEnd(this), EXITED_KEEP_MS)
    this.timer.unref()
  }

  private armIdle(): void {
    clearTimeout(this.timer)
    if (this.exited) {
      this.timer = setTimeout(() => this.onEnd(this), EXITED_KEEP_MS)
    } else {
      this.timer = setTimeout(() => {
        this.kill()
        this.onEnd(this)
      }, this.idleMs)
    }
    this.timer.unref()
  }

  dispose(): void {
    clearTimeout(this.timer)
    this.kill()
    for (const ws of this.clients) ws.close(1000, 'session closed')
  }
}

function validDimension(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_DIMENSION
}

/** Every terminal session of this instance. */
export class TerminalManager {
  private readonly sessions = new Map<string, TerminalSession>()

  constructor(private readonly opts: TerminalOptions) {}

  list(): TerminalSessionInfo[] {
    return [...this.sessions.values()].map((s) => s.info())
  }

  get(id: string): TerminalSession {
    const s = this.sessions.get(id)
    if (!s) throw errors.terminalSessionNotFound(id)
    return s
  }

  create(cols = 80, rows = 24): TerminalSession {
    if (!validDimension(cols) || !validDimension(rows))
      throw errors.validation(`cols and rows must be integers from 1 to ${MAX_DIMENSION}.`)
    if (this.sessions.size >= MAX_SESSIONS)
      throw errors.conflict(
        `An instance may have at most ${MAX_SESSIONS} terminal sessions; close one.`,
        'too_many_sessions',
      )
    const s = new TerminalSession(
      cols,
      rows,
      this.opts,
      (ended) => this.sessions.delete(ended.id),
      this.opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    )
    this.sessions.set(s.id, s)
    return s
  }

  close(id: string): void {
    const s = this.get(id)
    this.sessions.delete(id)
    s.dispose()
  }

  closeAll(): void {
    for (const id of [...this.sessions.keys()]) this.close(id)
  }
}
