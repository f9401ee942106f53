import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync } from 'node:fs'
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import type { ChannelsWire } from '../wire/channels.js'
import { GATEWAY_PORT, type GatewaySettings, type GatewayState } from '../wire/gateway.js'
import { channelsEnv, withChannels } from './gateway-channels.js'
import { type GatewayPaths, gatewayConfig, gatewayEnv, gatewayPaths } from './gateway-config.js'
import { brokerServesEmbeddings } from './gateway-features.js'
import { inWorkload } from './workload.js'

/** Backoff between restarts of a crashed gateway: doubles up to the cap. */
const RESTART_MIN_MS = 1_000
const RESTART_MAX_MS = 30_000
/** A gateway that stayed up this long is healthy again: the backoff starts over. */
const STABLE_AFTER_MS = 60_000
const READY_POLL_MS = 200
const STOP_GRACE_MS = 5_000
/** gateway.out (the gateway's stdout and stderr, served as the instance's gateway log) is kept under this. */
const OUT_MAX_BYTES = 8 * 1024 * 1024
/**
 * Liveness once ready: a gateway that gives no answer at all (a hung event loop, a stopped
 * process) this many times in a row, one look every interval (given as long to answer), is
 * killed and restarted. Any answer, even "not ready", counts as alive: a busy gateway is not a
 * hung one. The interval is the operator's CLAWPORT_GATEWAY_LIVENESS_MS.
 */
export const DEFAULT_LIVENESS_MS = 5_000
const LIVENESS_MISSES = 3

export interface GatewaySupervisorOptions {
  /** openclaw.mjs of the shared runtime (bound read-only at /opt/openclaw). */
  entry: string
  home: string
  workspace: string
  /** The environment the gateway's own tools start from (PATH, LANG, DISPLAY, ...). */
  baseEnv: Readonly<Record<string, string>>
  port?: number
  /** How often a ready gateway is asked for its health, and how long it has to answer. */
  livenessMs?: number
  log: (msg: string, extra?: Record<string, unknown>) => void
}

/** Starts the OpenClaw gateway, restarts it with backoff when it dies, and tracks its readiness. */
export class GatewaySupervisor {
  readonly port: number
  readonly paths: GatewayPaths
  private settings?: GatewaySettings
  private child?: ChildProcess
  private status: GatewayState['status'] = 'disabled'
  private restarts = 0
  private backoffMs = RESTART_MIN_MS
  private startedAt?: number
  private readyMs?: number
  private error?: string
  /** Why the gateway was killed for not answering, reported when it exits. */
  private hung?: string
  private stopping = false
  /** Put to sleep on purpose: not restarted until woken. */
  private asleep = false
  private timer?: NodeJS.Timeout
  private readonly waiters = new Set<() => void>()

  constructor(private readonly opts: GatewaySupervisorOptions) {
    this.port = opts.port ?? GATEWAY_PORT
    this.paths = gatewayPaths(opts.home)
  }

  /** The chat channels the gateway was started with. */
  get channels(): ChannelsWire | undefined {
    return this.settings?.channels
  }

  /** The gateway's token, for the clawlet's own connections to it. */
  get token(): string | undefined {
    return this.settings?.token
  }

  state(): GatewayState {
    return {
      status: this.status,
      restarts: this.restarts,
      port: this.port,
      ...(this.child?.pid && this.status !== 'crashed' && this.status !== 'sleeping'
        ? { pid: this.child.pid }
        : {}),
      ...(this.startedAt ? { started_at: new Date(this.startedAt).toISOString() } : {}),
      ...(this.readyMs !== undefined ? { ready_ms: this.readyMs } : {}),
      ...(this.error ? { error: this.error } : {}),
    }
  }

  /** Writes the config and starts the gateway; a no-op when it is already configured. */
  async configure(settings: GatewaySettings): Promise<GatewayState> {
    if (this.settings) return this.state()
    if (!existsSync(this.opts.entry)) {
      this.error = `the OpenClaw runtime is missing (${this.opts.entry}); run scripts/setup.sh on the host`
      return this.state()
    }
    this.settings = settings
    const p = this.paths
    for (const dir of [p.stateDir, `${p.stateDir}/logs`, p.tmpDir])
      await mkdir(dir, { recursive: true, mode: 0o700 })
    const base = gatewayConfig({
      token: settings.token,
      port: this.port,
      workspace: this.opts.workspace,
      logFile: p.logFile,
      features: { display: this.opts.baseEnv.DISPLAY, embeddings: await brokerServesEmbeddings() },
    })
    const config = withChannels(base, settings.channels)
    await writeFile(`${p.configFile}.tmp`, JSON.stringify(config, null, 2), { mode: 0o600 })
    await chmod(`${p.configFile}.tmp`, 0o600)
    await rename(`${p.configFile}.tmp`, p.configFile)
    this.spawn()
    return this.state()
  }

  /** Resolves once the gateway is ready, or rejects after timeoutMs. */
  async waitReady(timeoutMs: number): Promise<void> {
    if (this.status === 'ready') return
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        if (this.status !== 'ready') return
        clearTimeout(timer)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(() => {
        this.waiters.delete(done)
        reject(new Error(`the gateway was not ready within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.add(done)
    })
  }

  private notify(): void {
    for (const w of [...this.waiters]) w()
  }

  private spawn(): void {
    const p = this.paths
    const out = openSync(p.outFile, 'a', 0o600)
    // The output of every run is appended: past its cap it starts over.
    if (fstatSync(out).size > OUT_MAX_BYTES) ftruncateSync(out, 0)
    let child: ChildProcess
    try {
      // With the instance's workload: its tools are what a runaway kill ends, never the clawlet.
      const [file, args] = inWorkload(process.execPath, [
        this.opts.entry,
        'gateway',
        'run',
        '--port',
        String(this.port),
      ])
      child = spawn(file, args, {
        cwd: this.opts.workspace,
        env: channelsEnv(gatewayEnv(p, this.opts.baseEnv), this.settings?.channels),
        stdio: ['ignore', out, out],
        // Its own process group, so a stop reaches its workers too.
        detached: true,
      })
    } finally {
      closeSync(out)
    }
    this.child = child
    this.status = 'starting'
    this.startedAt = Date.now()
    this.readyMs = undefined
    this.opts.log('gateway starting', { pid: child.pid, restarts: this.restarts })
    child.once('error', (err) => {
      this.error = `the gateway could not start: ${err.message}`
    })
    child.once('exit', (code, signal) => this.onExit(child, code, signal))
    void this.pollReady(child)
  }

  private async pollReady(child: ChildProcess): Promise<void> {
    while (this.child === child && this.status === 'starting') {
      if (await this.probe()) {
        if (this.child !== child) return
        this.status = 'ready'
        this.error = undefined
        this.readyMs = Date.now() - (this.startedAt ?? Date.now())
        this.opts.log('gateway ready', { pid: child.pid, ms: this.readyMs })
        this.notify()
        void this.watchLiveness(child)
        return
      }
      await new Promise((r) => setTimeout(r, READY_POLL_MS))
    }
  }

  /** Looks at a ready gateway until it exits; one that stops answering is killed (and restarted). */
  private async watchLiveness(child: ChildProcess): Promise<void> {
    let misses = 0
    while (this.child === child && this.status === 'ready' && !this.stopping) {
      const livenessMs = this.opts.livenessMs ?? DEFAULT_LIVENESS_MS
      await new Promise((r) => setTimeout(r, livenessMs))
      if (this.child !== child || this.status !== 'ready' || this.stopping) return
      const answer = await this.ask(livenessMs)
      misses = answer === undefined ? misses + 1 : 0
      if (misses < LIVENESS_MISSES) continue
      this.hung = `the gateway stopped answering (no answer to ${LIVENESS_MISSES} health checks in a row)`
      this.opts.log('gateway hung', { pid: child.pid })
      this.killGroup(child, 'SIGKILL')
      return
    }
  }

  /** True when the gateway's /readyz answers ready. */
  async probe(timeoutMs = 2_000): Promise<boolean> {
    return (await this.ask(timeoutMs)) === 200
  }

  /** The status /readyz answers with, or undefined when no answer comes in time. */
  private ask(timeoutMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: this.port, path: '/readyz', timeout: timeoutMs },
        (res) => {
          res.resume()
          resolve(res.statusCode)
        },
      )
      req.on('timeout', () => req.destroy())
      req.on('error', () => resolve(undefined))
      req.end()
    })
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return
    const upMs = Date.now() - (this.startedAt ?? Date.now())
    this.killGroup(child, 'SIGKILL')
    if (this.stopping || this.asleep) {
      this.status = this.stopping ? 'disabled' : 'sleeping'
      return
    }
    this.status = 'crashed'
    this.error = this.hung ?? `the gateway exited (${signal ?? `code ${code}`}) after ${upMs} ms`
    this.hung = undefined
    if (upMs > STABLE_AFTER_MS) this.backoffMs = RESTART_MIN_MS
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, RESTART_MAX_MS)
    this.opts.log('gateway exited', { code, signal, upMs, restartInMs: delay })
    this.timer = setTimeout(() => {
      if (this.stopping) return
      this.restarts++
      this.spawn()
    }, delay)
  }

  private killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (!child.pid) return
    try {
      process.kill(-child.pid, signal)
    } catch {
      // The group is already gone.
    }
  }

  /**
   * Stops a configured gateway until `wake`: its memory is given back, and it is not restarted
   * as a crash would be. Its settings and state folder stay, so waking resumes its sessions.
   */
  async sleep(): Promise<GatewayState> {
    if (!this.settings || this.stopping || this.asleep) return this.state()
    this.asleep = true
    if (this.timer) clearTimeout(this.timer)
    this.status = 'sleeping'
    this.opts.log('gateway going to sleep', { pid: this.child?.pid })
    await this.end(this.child)
    return this.state()
  }

  /** Starts a sleeping gateway again with its settings; the caller polls until it is ready. */
  wake(): GatewayState {
    if (!this.asleep || this.stopping) return this.state()
    this.asleep = false
    this.backoffMs = RESTART_MIN_MS
    this.error = undefined
    this.spawn()
    return this.state()
  }

  /** Stops the gateway and its workers (TERM, then KILL after a grace period). */
  async stop(): Promise<void> {
    this.stopping = true
    if (this.timer) clearTimeout(this.timer)
    await this.end(this.child)
  }

  private async end(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    this.killGroup(child, 'SIGTERM')
    const kill = setTimeout(() => this.killGroup(child, 'SIGKILL'), STOP_GRACE_MS)
    await exited
    clearTimeout(kill)
  }
}
