import { type ChildProcess, execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { waitFor } from './wait.ts'

const execFileP = promisify(execFile)
export const REPO = path.resolve(import.meta.dirname, '../..')
const BIN = path.join(REPO, 'bin/clawport.js')

export interface ApiResponse<T = any> {
  status: number
  body: T
  headers: Headers
}

/** A real `clawport serve` process on a free port, with its own data folder. */
export class TestServer {
  proc!: ChildProcess
  url = ''
  /** The administrator's key printed on first start. */
  adminKey = ''
  output = ''

  readonly dataDir: string
  readonly env: Record<string, string>
  /** More `clawport serve` flags. */
  serveArgs: string[] = []
  private dropDatabase?: () => Promise<void>

  // Plain fields (no parameter properties) so bench scripts can run this file with Node's type stripping.
  constructor(dataDir: string, env: Record<string, string> = {}) {
    this.dataDir = dataDir
    this.env = env
  }

  get pid(): number {
    return this.proc.pid ?? -1
  }

  async start(): Promise<this> {
    this.output = ''
    // CLAWPORT_TEST_STORE=postgres runs every test server on its own PostgreSQL database.
    if (process.env.CLAWPORT_TEST_STORE === 'postgres' && !this.env.CLAWPORT_DATABASE_URL) {
      const { freshDatabase } = await import('./postgres.ts')
      const db = await freshDatabase('server')
      this.env.CLAWPORT_DATABASE_URL = db.url
      this.env.CLAWPORT_SECRET_KEY ??= TEST_SECRET_KEY
      this.dropDatabase = db.drop
    }
    this.proc = spawn(
      process.execPath,
      [BIN, 'serve', '--port', '0', '--data-dir', this.dataDir, ...this.serveArgs],
      {
        // No warm pool unless a test asks for one: it boots instances in the background.
        env: { ...process.env, CLAWPORT_LOG_LEVEL: 'warn', CLAWPORT_POOL_SIZE: '0', ...this.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${this.output}`)), 60_000)
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString()
        const m = /^clawport (http:\/\/\S+) ready/m.exec(this.output)
        const key = /^(sk_live_\S+)$/m.exec(this.output)
        if (m && (key || this.adminKey)) {
          this.url = m[1] as string
          if (key) this.adminKey = key[1] as string
          clearTimeout(timer)
          resolve()
        } else if (m && !/first start/.test(this.output)) {
          this.url = m[1] as string
          clearTimeout(timer)
          resolve()
        }
      }
      this.proc.stdout?.on('data', onData)
      this.proc.stderr?.on('data', (c: Buffer) => {
        this.output += c.toString()
      })
      this.proc.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`server exited with ${code}:\n${this.output}`))
      })
    })
    await ready
    return this
  }

  /** Stops the server gracefully; instances keep running. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode) return
    const exited = new Promise((r) => this.proc.once('exit', r))
    this.proc.kill('SIGTERM')
    await exited
  }

  /** Kills the server the hard way, as a crash would. */
  async kill9(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r))
    this.proc.kill('SIGKILL')
    await exited
  }

  async api<T = any>(
    method: string,
    p: string,
    opts: {
      key?: string | null
      body?: unknown
      headers?: Record<string, string>
      raw?: RequestInit['body']
    } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers }
    const key = opts.key === undefined ? this.adminKey : opts.key
    if (key) headers.authorization = `Bearer ${key}`
    let body: RequestInit['body'] = opts.raw
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.body)
    }
    const res = await fetch(this.url + p, { method, headers, body, duplex: 'half' } as RequestInit)
    const text = await res.text()
    let parsed: unknown = text
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text)
    return { status: res.status, body: parsed as T, headers: res.headers }
  }

  /** Runs `clawport admin ...` against this server's data folder; returns stdout. */
  async admin(...args: string[]): Promise<string> {
    const { stdout } = await execFileP(
      process.execPath,
      [BIN, 'admin', ...args, '--data-dir', this.dataDir],
      {
        env: { ...process.env, ...this.env },
      },
    )
    return stdout
  }

  /** Creates a user on a plan and returns a fresh API key for them. */
  async user(email: string, plan?: string): Promise<string> {
    await this.admin('user', 'create', '--email', email, ...(plan ? ['--plan', plan] : []))
    const out = await this.admin('key', 'create', '--email', email)
    return out.trim().split('\n').at(-1) as string
  }

  /** Creates an instance and waits until it is ready. */
  async readyInstance(
    key = this.adminKey,
    body: Record<string, unknown> = {},
    timeoutMs = 60_000,
  ): Promise<{ id: string }> {
    const res = await this.api('POST', '/api/instances', { key, body })
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`)
    return this.waitStatus(res.body.id, 'ready', key, timeoutMs)
  }

  async waitStatus(id: string, status: string, key = this.adminKey, timeoutMs = 60_000): Promise<any> {
    let last: any
    return waitFor(
      () => `instance ${id} to be ${status}: ${JSON.stringify(last)}`,
      async () => {
        last = (await this.api('GET', `/api/instances/${id}`, { key })).body
        if (last?.status === 'error' && status !== 'error')
          throw new Error(`instance failed: ${JSON.stringify(last)}`)
        return last?.status === status && last
      },
      // Quick polls while a fast start is likely, then gentler ones that stay under the rate limit.
      { timeoutMs, intervalMs: (waitedMs) => (waitedMs < 2000 ? 25 : 250) },
    )
  }

  async exec(id: string, command: string, extra: Record<string, unknown> = {}, key = this.adminKey) {
    const res = await this.api('POST', `/api/instances/${id}/terminal/exec`, {
      key,
      body: { command, ...extra },
    })
    if (res.status !== 200) throw new Error(`exec failed: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body as { stdout: string; stderr: string; exit_code: number | null; timed_out: boolean }
  }

  /** Deletes every instance left in the data folder, then stops the server and removes the folder. */
  async destroy(): Promise<void> {
    try {
      if (this.proc && this.proc.exitCode === null && !this.proc.signalCode) await this.stop()
    } finally {
      await execFileP(process.execPath, [path.join(REPO, 'test/helpers/cleanup.mjs'), this.dataDir], {
        env: { ...process.env, ...this.env },
      }).catch((err) => console.error('cleanup failed', err))
      fs.rmSync(this.dataDir, { recursive: true, force: true })
      await this.dropDatabase?.().catch((err) => console.error('dropping the test database failed', err))
    }
  }
}

/** The secret-box key test replicas share (32 bytes, base64). */
export const TEST_SECRET_KEY = Buffer.alloc(32, 7).toString('base64')

export function tempDataDir(prefix = 'clawport-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  fs.chmodSync(dir, 0o711)
  return dir
}

export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  return new TestServer(tempDataDir(), env).start()
}
