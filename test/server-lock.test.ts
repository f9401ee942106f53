import { spawn } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { REPO, startServer, type TestServer, tempDataDir } from './helpers/server.js'

/** Runs `clawport serve` to its end; resolves with its exit code, output and how long it ran. */
function serveOnce(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; out: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, [path.join(REPO, 'bin/clawport.js'), 'serve', ...args], {
      env: { ...process.env, ...TEST_ENV, CLAWPORT_LOG_LEVEL: 'warn', CLAWPORT_POOL_SIZE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out, ms: Date.now() - t0 })
    })
  })
}

describe('one server per data folder', () => {
  let s: TestServer
  beforeAll(async () => {
    s = await startServer(TEST_ENV)
  })
  afterAll(async () => {
    await s?.destroy()
  })

  it('refuses a second server on the same folder at once, naming the first', async () => {
    const second = await serveOnce(['--port', '0', '--data-dir', s.dataDir])
    expect(second.code).toBe(1)
    expect(second.out).toContain(`pid ${s.pid}`)
    expect(second.out).toContain('already serves')
    // The first one still answers.
    expect((await s.api('GET', '/api/instances')).status).toBe(200)
  })

  it('takes the folder over once the first server is gone, even after kill -9', async () => {
    await s.kill9()
    await s.start()
    expect((await s.api('GET', '/api/instances')).status).toBe(200)
  })

  it('exits non-zero, saying why, when it cannot listen', async () => {
    const taken = net.createServer()
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r))
    const port = (taken.address() as net.AddressInfo).port
    const dir = tempDataDir('clawport-nolisten-')
    try {
      const r = await serveOnce(['--port', String(port), '--host', '127.0.0.1', '--data-dir', dir])
      expect(r.code).toBe(1)
      expect(r.out).toContain(`cannot listen on 127.0.0.1:${port}`)
      expect(r.out).toContain('EADDRINUSE')
    } finally {
      taken.close()
      const { rmSync } = await import('node:fs')
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
