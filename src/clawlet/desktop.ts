import { type ChildProcess, spawn } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import type { DesktopHealth, DesktopStatus } from '../wire/clawlet.js'

/** What the clawlet needs to run the instance's desktop. */
export interface DesktopOptions {
  width: number
  height: number
  /** The X display number inside the sandbox (every sandbox has its own /tmp and network). */
  display: number
  /** The VNC server's Unix socket: its only listener. */
  vncSocket: string
  env: Readonly<Record<string, string>>
  log: (msg: string, extra?: Record<string, unknown>) => void
}

const MIN_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 5_000
/** A process that ran this long before dying is restarted at once again. */
const STABLE_MS = 30_000

/**
 * Supervises the desktop: Xtigervnc serving RFB on a Unix socket only (`-rfbport -1`) and
 * openbox on its display, each restarted with a backoff when it dies.
 */
export class Desktop {
  private status: DesktopStatus = 'starting'
  private detail?: string
  private xvnc?: ChildProcess
  private wm?: ChildProcess
  private stopping = false
  /** Stopped on purpose until `wake`: its processes are not restarted. */
  private asleep = false
  private restarts = 0
  private readyMs?: number
  private xBackoff = MIN_BACKOFF_MS
  private wmBackoff = MIN_BACKOFF_MS
  private readonly waiters = new Set<() => void>()

  constructor(private readonly opts: DesktopOptions) {}

  get display(): string {
    return `:${this.opts.display}`
  }

  get socketPath(): string {
    return this.opts.vncSocket
  }

  health(): DesktopHealth {
    return {
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      width: this.opts.width,
      height: this.opts.height,
      ...(this.readyMs === undefined ? {} : { ready_ms: Math.round(this.readyMs * 10) / 10 }),
      restarts: this.restarts,
    }
  }

  /** Resolves once the desktop accepts connections, or after timeoutMs (then check health()). */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.status === 'ready') return Promise.resolve(true)
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(done)
        resolve(this.status === 'ready')
      }
      const timer = setTimeout(done, timeoutMs)
      this.waiters.add(done)
    })
  }

  start(): void {
    void this.startX()
  }

  private async startX(): Promise<void> {
    if (this.stopping || this.asleep) return
    const n = this.opts.display
    const t0 = performance.now()
    // A crashed server leaves its lock and sockets behind; a new one would refuse the display.
    await Promise.all(
      [`/tmp/.X${n}-lock`, `/tmp/.X11-unix/X${n}`, this.opts.vncSocket].map((f) => rm(f, { force: true })),
    )
    // Put to sleep while the leftovers were being removed.
    if (this.stopping || this.asleep) return
    const args = [
      `:${n}`,
      '-rfbport',
      '-1',
      '-rfbunixpath',
      this.opts.vncSocket,
      '-rfbunixmode',
      '0600',
      '-SecurityTypes',
      'None',
      '-AlwaysShared',
      '-geometry',
      `${this.opts.width}x${this.opts.height}`,
      '-depth',
      '24',
      '-nolisten',
      'tcp',
      '-desktop',
      'clawport',
      // The server writes its display number to fd 3 once it accepts clients.
      '-displayfd',
      '3',
    ]
    const child = spawn('Xtigervnc', args, {
      cwd: '/tmp',
      env: this.opts.env,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    })
    this.xvnc = child
    let stderr = ''
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-2000)
    })
    const fd3 = child.stdio[3] as NodeJS.ReadableStream | undefined
    fd3?.on('data', () => {
      if (this.xvnc !== child || this.status === 'ready') return
      this.readyMs = performance.now() - t0
      this.setStatus('ready')
      this.opts.log('desktop ready', { ms: Math.round(this.readyMs), display: this.display })
      this.startWm()
    })
    const started = performance.now()
    child.once('error', (err) => {
      this.detail = `Xtigervnc could not start: ${err.message}`
    })
    child.once('exit', (code, signal) => {
      if (this.xvnc !== child) return
      this.xvnc = undefined
      this.wm?.kill('SIGTERM')
      if (this.stopping || this.asleep) return
      const why = this.detail ?? `Xtigervnc exited (${signal ?? code}): ${lastLine(stderr)}`
      this.opts.log('desktop died', { reason: why })
      this.restarts++
      this.xBackoff =
        performance.now() - started > STABLE_MS ? MIN_BACKOFF_MS : Math.min(this.xBackoff * 2, MAX_BACKOFF_MS)
      this.detail = why
      this.setStatus('restarting')
      setTimeout(() => {
        this.detail = undefined
        void this.startX()
      }, this.xBackoff).unref()
    })
  }

  private startWm(): void {
    if (this.stopping || this.asleep || !this.xvnc) return
    const started = performance.now()
    const wm = spawn('openbox', [], {
      cwd: this.opts.env.HOME ?? '/',
      env: { ...this.opts.env, DISPLAY: this.display },
      stdio: 'ignore',
    })
    this.wm = wm
    wm.once('error', () => {})
    wm.once('exit', () => {
      if (this.wm !== wm) return
      this.wm = undefined
      if (this.stopping || this.asleep || !this.xvnc) return
      this.wmBackoff =
        performance.now() - started > STABLE_MS
          ? MIN_BACKOFF_MS
          : Math.min(this.wmBackoff * 2, MAX_BACKOFF_MS)
      setTimeout(() => this.startWm(), this.wmBackoff).unref()
    })
  }

  private setStatus(status: DesktopStatus): void {
    this.status = status
    for (const w of [...this.waiters]) w()
  }

  /** Stops the X server and the window manager until `wake`; resolves once both have exited. */
  async sleep(): Promise<DesktopHealth> {
    if (this.stopping || this.asleep) return this.health()
    this.asleep = true
    const procs = [this.wm, this.xvnc].filter((p): p is ChildProcess => !!p && p.exitCode === null)
    const exited = procs.map((p) => new Promise((r) => p.once('exit', r)))
    for (const p of procs) p.kill('SIGTERM')
    const kill = setTimeout(() => {
      for (const p of procs) p.kill('SIGKILL')
    }, 5_000)
    await Promise.all(exited)
    clearTimeout(kill)
    this.setStatus('sleeping')
    this.opts.log('desktop asleep')
    return this.health()
  }

  /** Starts a sleeping desktop again; resolves once it accepts connections (or after timeoutMs). */
  async wake(timeoutMs: number): Promise<DesktopHealth> {
    if (this.asleep && !this.stopping) {
      this.asleep = false
      this.xBackoff = MIN_BACKOFF_MS
      this.wmBackoff = MIN_BACKOFF_MS
      this.setStatus('starting')
      void this.startX()
    }
    await this.waitReady(timeoutMs)
    return this.health()
  }

  stop(): void {
    this.stopping = true
    this.wm?.kill('SIGTERM')
    this.xvnc?.kill('SIGTERM')
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? ''
}
