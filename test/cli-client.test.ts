import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type IPty, spawn as spawnPty } from '@lydell/node-pty'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, clientEnv, runNode } from './helpers/clients.js'
import { TEST_ENV } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

/** `clawport` as a client of a remote server: every command against a real server and instance. */
describe('the clawport CLI as a client', () => {
  let s: TestServer
  let dir: string
  let id: string
  const cli = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) =>
    runNode(CLI, args, {
      env: { ...clientEnv(s.url, s.adminKey, id), ...opts.env },
      input: opts.input,
      cwd: dir,
    })
  const json = async (args: string[]) => {
    const r = await cli([...args, '--json'])
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout)
  }

  /** The CLI in a real PTY, as a person at a terminal runs it. */
  function inPty(args: string[]): { pty: IPty; output: () => string; exited: Promise<number> } {
    let out = ''
    const pty = spawnPty(process.execPath, [CLI, ...args], {
      name: 'xterm',
      cols: 100,
      rows: 30,
      cwd: dir,
      env: { ...process.env, ...clientEnv(s.url, s.adminKey, id) } as Record<string, string>,
    })
    pty.onData((d) => {
      out += d
    })
    const exited = new Promise<number>((resolve) => pty.onExit((e) => resolve(e.exitCode)))
    return { pty, output: () => out, exited }
  }
  const until = (check: () => boolean, what: string, output: () => string, timeoutMs = 15_000) =>
    waitFor(() => `${what}: ${JSON.stringify(output().slice(-400))}`, check, { timeoutMs, intervalMs: 50 })

  beforeAll(async () => {
    buildOnce()
    s = await startServer(TEST_ENV)
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-cli-'))
    id = ''
  })
  afterAll(async () => {
    await s?.destroy()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('manages instances: create --wait, list, get, status, reboot, shutdown, start, delete', async () => {
    const created = await json(['instances', 'create', '--wait', '--name', 'cli'])
    expect(created).toMatchObject({ status: 'ready', name: 'cli' })
    id = created.id
    const human = await cli(['instances'])
    expect(human.stdout).toMatch(new RegExp(`^${id}\\s+ready\\s+cli`))
    expect((await json(['instances', 'list']))[0].id).toBe(id)
    expect((await json(['instances', 'get', id])).id).toBe(id)
    expect((await json(['instances', 'status'])).sandbox).toMatchObject({
      running: true,
      pid: expect.any(Number),
    })
    expect(await json(['instances', 'reboot', '--wait'])).toMatchObject({ id, status: 'ready' })
    expect((await json(['instances', 'shutdown'])).id).toBe(id)
    await s.waitStatus(id, 'stopped')
    const notReady = await cli(['exec', 'true'])
    expect(notReady.code).toBe(1)
    expect(notReady.stderr).toMatch(/^HTTP 409: /)
    expect(await json(['instances', 'start', '--wait'])).toMatchObject({ status: 'ready' })
    const other = await json(['instances', 'create', '--wait'])
    expect(await json(['instances', 'delete', other.id])).toEqual({ id: other.id, deleted: true })
    const gone = await cli(['instances', 'get', other.id])
    expect(gone.stderr.trim()).toBe(`HTTP 404: Instance ${other.id} was not found.`)
    // --base-url/--api-key win over the environment; an unreachable server is a clear error.
    const flags = await cli(['instances', '--base-url', s.url, '--api-key', 'sk_live_wrong'])
    expect(flags.stderr.trim()).toBe('HTTP 401: The API key is not valid.')
    const down = await cli(['instances', '--base-url', 'http://127.0.0.1:1'])
    expect(down.stderr).toMatch(/^clawport: cannot reach http:\/\/127\.0\.0\.1:1\/api/)
  }, 120_000)

  it('runs commands: output passes through, the exit code is the command’s', async () => {
    const r = await cli(['exec', 'echo out; echo err >&2; exit 4'])
    expect(r).toMatchObject({ code: 4, stdout: 'out\n', stderr: 'err\n' })
    expect(await json(['exec', 'pwd', '--cwd', '/tmp'])).toMatchObject({ stdout: '/tmp\n', exit_code: 0 })
    const slow = await cli(['exec', 'sleep 5', '--timeout-ms', '300'])
    expect(slow.code).toBe(124)
    expect(slow.stderr).toContain('timed out')
  })

  it('moves files both ways, binary-safe and recursive', async () => {
    const src = path.join(dir, 'tree')
    fs.mkdirSync(path.join(src, 'a/b'), { recursive: true })
    fs.mkdirSync(path.join(src, 'empty'))
    const blob = randomBytes(3 * 1024 * 1024 + 17)
    fs.writeFileSync(path.join(src, 'a/b/blob.bin'), blob)
    fs.writeFileSync(path.join(src, 'a/text.txt'), 'text\n')
    const up = await json(['files', 'upload', src, '/workspace/tree'])
    expect(up.uploaded).toHaveLength(2)
    expect(
      (await s.exec(id, 'sha256sum tree/a/b/blob.bin && test -d tree/empty && echo ok')).stdout,
    ).toContain('ok')
    const names = (await json(['files', 'ls', 'tree'])).entries.map((e: any) => e.name).sort()
    expect(names).toEqual(['a', 'empty'])
    const down = path.join(dir, 'back')
    await json(['files', 'download', '/workspace/tree', down])
    expect(fs.readFileSync(path.join(down, 'a/b/blob.bin')).equals(blob)).toBe(true)
    expect(fs.readFileSync(path.join(down, 'a/text.txt'), 'utf8')).toBe('text\n')
    expect(fs.statSync(path.join(down, 'empty')).isDirectory()).toBe(true)
    // Single files, stdin, raw reads.
    const bin = Buffer.from([0, 1, 2, 255, 254, 10])
    fs.writeFileSync(path.join(dir, 'one.bin'), bin)
    await json(['files', 'upload', path.join(dir, 'one.bin'), 'one.bin'])
    await json(['files', 'download', 'one.bin', path.join(dir, 'one.copy')])
    expect(fs.readFileSync(path.join(dir, 'one.copy')).equals(bin)).toBe(true)
    expect((await cli(['files', 'write', 'w.txt'], { input: 'piped\n' })).stdout).toMatch(/wrote 6 bytes/)
    expect((await cli(['files', 'write', 'x.txt', 'from', 'args'])).code).toBe(0)
    expect((await cli(['files', 'read', 'w.txt'])).stdout).toBe('piped\n')
    expect((await json(['files', 'read', 'x.txt'])).content).toBe('from args')
    expect(await json(['files', 'mkdir', 'm/n'])).toEqual({ path: '/workspace/m/n' })
    expect((await cli(['files', 'read', 'missing'])).stderr.trim()).toBe(
      'HTTP 404: /workspace/missing does not exist.',
    )
  })

  it('draws a progress bar on a terminal', async () => {
    fs.writeFileSync(path.join(dir, 'big.bin'), randomBytes(2 * 1024 * 1024))
    const run = inPty(['files', 'upload', path.join(dir, 'big.bin'), 'big.bin'])
    expect(await run.exited).toBe(0)
    expect(run.output()).toMatch(/\[#{30}\] 100% {2}1\/1 files {2}2\.0 MB\/2\.0 MB/)
    expect(run.output()).toContain('uploaded 1 files to big.bin')
  })

  it('attaches a terminal: raw keys, resize, detach, reattach, exit code', async () => {
    const first = inPty(['terminal', 'attach'])
    await until(() => /\$ $/.test(first.output()), 'a prompt', first.output)
    first.pty.write('echo $((6*7))\r')
    await until(() => /[\r\n]42\r*\n/.test(first.output()), '42', first.output)
    first.pty.resize(132, 40)
    await new Promise((r) => setTimeout(r, 300))
    first.pty.write('stty size\r')
    await until(() => first.output().includes('40 132'), 'the new size', first.output)
    first.pty.write('\x1d')
    expect(await first.exited).toBe(0)
    const sid = /attach --session (\S+)\]/.exec(first.output())?.[1]
    expect(sid).toMatch(/^term_[\w-]{12}$/)
    const again = inPty(['terminal', 'attach', '--session', sid as string])
    await until(() => again.output().includes('40 132'), 'the replayed output', again.output)
    again.pty.write('exit 5\r')
    expect(await again.exited).toBe(5)
  }, 60_000)
})
