import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClawletClient } from '../src/door/clawlet/client.js'
import { AppError } from '../src/errors.js'
import { startSandbox, type TestSandbox } from './helpers/sandbox.js'
import { waitFor } from './helpers/wait.js'

let sb: TestSandbox
let c: ClawletClient

beforeAll(async () => {
  sb = await startSandbox({
    env: { SECRET_TOKEN: 'nope' },
    smallDiskBytes: 256 * 1024,
  })
  c = sb.client
})
afterAll(async () => {
  await sb?.stop()
})

/** The AppError a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`)
  return err
}

async function expectError(promise: Promise<unknown>, status: number, code: string): Promise<AppError> {
  const err = await failure(promise)
  expect({ status: err.status, code: err.code }).toEqual({ status, code })
  return err
}

/** A raw request, for what the typed client never sends. */
function raw(method: string, urlPath: string, body?: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sb.socketPath, method, path: urlPath }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function sh(command: string): Promise<string> {
  const r = await c.exec({ command, timeout_ms: 10_000 })
  expect(r.exit_code, r.stderr).toBe(0)
  return r.stdout
}

/** Waits until process `pid` of the instance is gone. */
const gone = (pid: string) =>
  waitFor(
    `process ${pid} to be gone`,
    async () => (await sh(`kill -0 ${pid} 2>/dev/null && echo alive || echo gone`)).trim() === 'gone',
    { timeoutMs: 10_000, intervalMs: 20 },
  )

/** `total` bytes of deterministic pseudo-random data in 1 MiB chunks, hashed as they go. */
function generated(total: number, hash: ReturnType<typeof createHash>, failAfter?: number): Readable {
  const block = randomBytes(1024 * 1024)
  return Readable.from(
    (function* () {
      for (let sent = 0, i = 0; sent < total; i++) {
        if (failAfter !== undefined && sent >= failAfter) throw new Error('client went away')
        const chunk = Buffer.from(block.subarray(0, Math.min(block.length, total - sent)))
        chunk.writeUInt32LE(i, 0)
        hash.update(chunk)
        sent += chunk.length
        yield chunk
      }
    })(),
  )
}

describe('clawlet health and routing', () => {
  it('answers health with its version', async () => {
    const pkg = JSON.parse(await readFile(path.join(import.meta.dirname, '../package.json'), 'utf8'))
    const h = await c.health()
    expect(h).toMatchObject({ ok: true, version: pkg.version })
    expect(h.uptime_ms).toBeGreaterThanOrEqual(0)
  })

  it('answers unknown routes with 404 and bad JSON with 422', async () => {
    expect(await raw('GET', '/v1/nope')).toMatchObject({
      status: 404,
      json: { code: 'route_not_found', status: 404 },
    })
    expect(await raw('POST', '/v1/exec', '{not json')).toMatchObject({
      status: 422,
      json: { code: 'validation_failed' },
    })
    expect(await raw('POST', '/v1/exec', '{"command":""}')).toMatchObject({ status: 422 })
    expect(await raw('GET', '/v1/files/read?path=a&max_bytes=-1')).toMatchObject({ status: 422 })
  })

  it('turns a missing socket into 503 instance_unavailable', async () => {
    const dead = new ClawletClient({ transport: { unix: path.join(sb.root, 'none.sock') }, label: 'inst-x' })
    const err = await expectError(dead.health(), 503, 'instance_unavailable')
    expect(err.message).toContain('inst-x')
    dead.close()
  })
})

describe('exec', () => {
  it('runs as the unprivileged user in /workspace with exit codes and stderr', async () => {
    expect(await c.exec({ command: 'id -u; pwd', timeout_ms: 5000 })).toMatchObject({
      stdout: '1000\n/workspace\n',
      stderr: '',
      exit_code: 0,
      timed_out: false,
    })
    const r = await c.exec({ command: 'echo oops >&2; exit 3', timeout_ms: 5000 })
    expect(r).toMatchObject({ stdout: '', stderr: 'oops\n', exit_code: 3 })
    expect(r.duration_ms).toBeGreaterThan(0)
    expect((await c.exec({ command: 'kill -9 $$', timeout_ms: 5000 })).exit_code).toBe(137)
  })

  it('feeds stdin and builds a clean environment', async () => {
    expect((await c.exec({ command: 'tr a-z A-Z', stdin: 'hello', timeout_ms: 5000 })).stdout).toBe('HELLO')
    expect((await c.exec({ command: 'cat', timeout_ms: 5000 })).stdout).toBe('')
    const out = await c.exec({ command: 'env', env: { FOO: 'bar baz', LANG: 'C' }, timeout_ms: 5000 })
    const env = Object.fromEntries(
      out.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    )
    expect(env).toMatchObject({
      HOME: '/home/claw',
      USER: 'claw',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      TERM: 'xterm-256color',
      LANG: 'C',
      FOO: 'bar baz',
      CLAWPORT_INSTANCE_ID: sb.id,
    })
    expect(env.SECRET_TOKEN).toBeUndefined()
    expect(env.CLAWLET_SOCKET).toBeUndefined()
  })

  it('resolves cwd under /workspace and answers 404 for a missing one', async () => {
    await c.mkdir('cwd/sub')
    expect((await c.exec({ command: 'pwd', cwd: 'cwd/sub', timeout_ms: 5000 })).stdout).toBe(
      '/workspace/cwd/sub\n',
    )
    expect((await c.exec({ command: 'pwd', cwd: '/tmp', timeout_ms: 5000 })).stdout).toBe('/tmp\n')
    const err = await expectError(
      c.exec({ command: 'pwd', cwd: 'missing', timeout_ms: 5000 }),
      404,
      'path_not_found',
    )
    expect(err.message).toContain('/workspace/missing')
  })

  it('kills the whole process group on timeout', async () => {
    const r = await c.exec({ command: 'sleep 300 & echo $! > timeout.pid; wait', timeout_ms: 300 })
    expect(r).toMatchObject({ timed_out: true, exit_code: null })
    await gone((await sh('cat timeout.pid')).trim())
  })

  it('kills the command when the caller aborts', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 200)
    const run = c.exec(
      { command: 'sleep 300 & echo $! > abort.pid; wait', timeout_ms: 60_000 },
      { signal: controller.signal },
    )
    await expect(run).rejects.toMatchObject({ name: 'AbortError' })
    await gone((await sh('cat abort.pid')).trim())
  })

  it('does not hang on a background child holding the pipes, and leaves it running', async () => {
    // Had it waited for the child's pipes, it would have timed out.
    const r = await c.exec({ command: 'sleep 30 & echo $! > bg.pid; echo started', timeout_ms: 20_000 })
    expect(r).toMatchObject({ stdout: 'started\n', exit_code: 0, timed_out: false })
    expect(await sh('kill -0 $(cat bg.pid) && echo alive')).toBe('alive\n')
    await sh('kill $(cat bg.pid)')
  })

  it('caps captured output and says so', async () => {
    const r = await c.exec({
      command: 'head -c 17000000 /dev/zero | tr "\\0" x; echo done >&2',
      timeout_ms: 20_000,
    })
    expect(r.truncated).toBe(true)
    expect(r.stdout.length).toBe(16 * 1024 * 1024)
    expect(r.stderr).toBe('done\n')
  })
})

describe('files', () => {
  it('makes folders recursively and idempotently', async () => {
    expect(await c.mkdir('a/b/c')).toEqual({ path: '/workspace/a/b/c' })
    expect(await c.mkdir('/workspace/a/b/c')).toEqual({ path: '/workspace/a/b/c' })
    await c.write('a/file.txt', Buffer.from('x'))
    await expectError(c.mkdir('a/file.txt'), 409, 'not_a_directory')
    await expectError(c.mkdir('a/file.txt/sub'), 409, 'not_a_directory')
  })

  it('writes, reads, stats and lists', async () => {
    expect(await c.write('docs/hello.txt', Buffer.from('héllo 👋\n'), { mkdirs: true })).toEqual({
      path: '/workspace/docs/hello.txt',
      size: 12,
    })
    expect(await c.read('docs/hello.txt')).toEqual({
      path: '/workspace/docs/hello.txt',
      content: 'héllo 👋\n',
      encoding: 'utf8',
      size: 12,
    })
    await c.mkdir('docs/zdir')
    await c.mkdir('docs/adir')
    await sh('ln -s hello.txt docs/link && printf 1234 > docs/b.bin')
    const list = await c.list('docs')
    expect(list.path).toBe('/workspace/docs')
    expect(list.entries.map((e) => [e.name, e.type])).toEqual([
      ['adir', 'dir'],
      ['zdir', 'dir'],
      ['b.bin', 'file'],
      ['hello.txt', 'file'],
      ['link', 'symlink'],
    ])
    const stat = await c.stat('/workspace/docs/b.bin')
    expect(stat).toMatchObject({ name: 'b.bin', path: '/workspace/docs/b.bin', type: 'file', size: 4 })
    expect(stat.modified_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect((await c.stat('docs/link')).type).toBe('symlink')
    expect((await c.list('/')).entries.some((e) => e.name === 'workspace')).toBe(true)
  })

  it('reads binary as base64 and detects UTF-8', async () => {
    const bin = randomBytes(4096)
    await c.write('bin/random.bin', bin, { mkdirs: true })
    const r = await c.read('bin/random.bin')
    expect(r.encoding).toBe('base64')
    expect(Buffer.from(r.content, 'base64').equals(bin)).toBe(true)
    await c.write('bin/nul.txt', Buffer.from('abc\0def'))
    expect((await c.read('bin/nul.txt')).encoding).toBe('base64')
    await c.write('bin/latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9]))
    expect((await c.read('bin/latin1.txt')).encoding).toBe('base64')
    await c.write('bin/empty.txt', Buffer.alloc(0))
    expect(await c.read('bin/empty.txt')).toMatchObject({ content: '', encoding: 'utf8', size: 0 })
  })

  it('maps read and list errors', async () => {
    await c.write('big.txt', Buffer.alloc(2000, 'a'))
    const err = await expectError(c.read('big.txt', 1000), 413, 'file_too_large')
    expect(err.message).toContain('download')
    expect((await c.read('big.txt', 2000)).size).toBe(2000)
    await expectError(c.read('docs'), 409, 'is_a_directory')
    await expectError(c.list('big.txt'), 409, 'not_a_directory')
    expect((await expectError(c.read('nope.txt'), 404, 'path_not_found')).message).toContain(
      '/workspace/nope.txt',
    )
    await expectError(c.stat('nope/deeper'), 404, 'path_not_found')
    await sh('echo secret > locked.txt && chmod 000 locked.txt')
    await expectError(c.read('locked.txt'), 403, 'permission_denied')
    expect((await c.read('../../etc/hostname')).path).toBe('/etc/hostname')
  })

  it('rejects invalid paths with 422', async () => {
    await expectError(c.read('a\0b'), 422, 'invalid_path')
    await expectError(c.stat(''), 422, 'invalid_path')
    await expectError(c.stat('x'.repeat(5000)), 422, 'invalid_path')
    await expectError(c.write('x'.repeat(300), Buffer.from('1')), 422, 'invalid_path')
    await expectError(c.move('a', 'a/b/c/inside'), 422, 'invalid_path')
  })

  it('maps write errors and never leaves partial files', async () => {
    await expectError(c.write('docs', Buffer.from('x')), 409, 'is_a_directory')
    await expectError(c.write('no/such/dir/f.txt', Buffer.from('x')), 404, 'path_not_found')
    await expectError(
      c.write('docs/hello.txt', Buffer.from('x'), { overwrite: false }),
      409,
      'already_exists',
    )
    await expectError(c.write('/usr/evil', Buffer.from('x')), 403, 'permission_denied')
    await expectError(c.write('../../etc/passwd', Buffer.from('x')), 403, 'permission_denied')
    await expectError(c.write('/proc/nope', Buffer.from('x')), 404, 'path_not_found')
    await c.mkdir('limits')
    await expectError(
      c.write('limits/max.bin', Buffer.alloc(5000), { maxBytes: 4096 }),
      413,
      'file_too_large',
    )
    const stream = generated(8 * 1024 * 1024, createHash('sha256'))
    await expectError(
      c.write('limits/stream.bin', stream, { maxBytes: 3 * 1024 * 1024 }),
      413,
      'file_too_large',
    )
    const full = await expectError(c.write('small/full.bin', randomBytes(1024 * 1024)), 413, 'disk_full')
    expect(full.message).toContain('/small/full.bin')
    expect((await c.list('limits')).entries).toEqual([])
    expect((await c.list('small')).entries).toEqual([])
    expect((await c.read('docs/hello.txt')).content).toBe('héllo 👋\n')
  })

  it('keeps the permissions of a replaced file', async () => {
    await sh('printf old > mode.sh && chmod 775 mode.sh')
    await c.write('mode.sh', Buffer.from('new'))
    expect(await sh('stat -c %a mode.sh; cat mode.sh')).toBe('775\nnew')
  })

  it('streams 100 MB up and down with bounded memory', async () => {
    const total = 100 * 1024 * 1024
    const up = createHash('sha256')
    // Reset the clawlet's peak-memory mark so earlier tests do not count.
    const { pid } = await c.health()
    const kb = async (field: string) =>
      Number(new RegExp(`${field}:\\s+(\\d+)`).exec(await sh(`cat /proc/${pid}/status`))?.[1]) * 1024
    await sh(`echo 5 > /proc/${pid}/clear_refs`)
    const clawletBase = await kb('VmRSS')
    let peak = process.memoryUsage().rss
    const base = peak
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 20)
    try {
      expect(await c.write('big/100mb.bin', generated(total, up), { mkdirs: true })).toEqual({
        path: '/workspace/big/100mb.bin',
        size: total,
      })
      const down = await c.download('big/100mb.bin')
      expect(down).toMatchObject({ kind: 'file', size: total })
      const hash = createHash('sha256')
      await pipeline(down.stream, hash)
      expect(hash.digest('hex')).toBe(up.digest('hex'))
    } finally {
      clearInterval(sampler)
    }
    expect(peak - base).toBeLessThan(64 * 1024 * 1024)
    // Buffers are freed by V8's external-memory GC, which lets ~64 MiB pile up first: the peak is
    // bounded by that, not by the file's size.
    expect((await kb('VmHWM')) - clawletBase).toBeLessThan(100 * 1024 * 1024)
    expect((await c.list('big')).entries.map((e) => e.name)).toEqual(['100mb.bin'])
  })

  it('removes the partial file when an upload is aborted', async () => {
    await c.mkdir('aborted')
    const failing = generated(50 * 1024 * 1024, createHash('sha256'), 4 * 1024 * 1024)
    await expect(c.write('aborted/a.bin', failing)).rejects.toThrow('client went away')
    const controller = new AbortController()
    const slow = generated(50 * 1024 * 1024, createHash('sha256'))
    slow.once('data', () => setTimeout(() => controller.abort(), 50))
    await expect(c.write('aborted/b.bin', slow, { signal: controller.signal })).rejects.toThrow()
    let names: string[] = []
    await waitFor(
      () => `the aborted writes' files to go, left: ${names.join(', ')}`,
      async () => {
        names = (await c.list('aborted')).entries.map((e) => e.name)
        return names.length === 0
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    )
  })

  it('downloads a folder as tar.gz', async () => {
    await c.write('tree/one.txt', Buffer.from('one'), { mkdirs: true })
    await c.write('tree/sub/two.txt', Buffer.from('two'), { mkdirs: true })
    const down = await c.download('tree')
    expect(down.kind).toBe('dir')
    const out = await mkdtemp(path.join(tmpdir(), 'clawlet-tar-'))
    try {
      await pipeline(down.stream, (await import('node:fs')).createWriteStream(path.join(out, 't.tgz')))
      execFileSync('tar', ['-xzf', path.join(out, 't.tgz'), '-C', out])
      expect(await readFile(path.join(out, 'tree/sub/two.txt'), 'utf8')).toBe('two')
      expect(await readFile(path.join(out, 'tree/one.txt'), 'utf8')).toBe('one')
    } finally {
      await rm(out, { recursive: true, force: true })
    }
    await expectError(c.download('tree/nope'), 404, 'path_not_found')
  })

  it('moves files and folders', async () => {
    await c.write('mv/src.txt', Buffer.from('payload'), { mkdirs: true })
    expect(await c.move('mv/src.txt', 'mv/deep/er/dst.txt')).toEqual({
      path: '/workspace/mv/deep/er/dst.txt',
    })
    expect((await c.read('mv/deep/er/dst.txt')).content).toBe('payload')
    await expectError(c.stat('mv/src.txt'), 404, 'path_not_found')
    await c.write('mv/other.txt', Buffer.from('other'))
    await expectError(c.move('mv/other.txt', 'mv/deep/er/dst.txt'), 409, 'already_exists')
    await c.move('mv/other.txt', 'mv/deep/er/dst.txt', true)
    expect((await c.read('mv/deep/er/dst.txt')).content).toBe('other')
    await expectError(c.move('mv/missing', 'mv/x'), 404, 'path_not_found')
    await c.move('mv/deep', 'moved')
    expect((await c.list('moved/er')).entries.map((e) => e.name)).toEqual(['dst.txt'])
    await sh('mkdir -p /tmp/xdev/in && echo cross > /tmp/xdev/in/f.txt')
    await c.move('/tmp/xdev', 'xdev')
    expect((await c.read('xdev/in/f.txt')).content).toBe('cross\n')
    await expectError(c.stat('/tmp/xdev'), 404, 'path_not_found')
    await expectError(c.move('/workspace', 'elsewhere'), 422, 'invalid_path')
  })

  it('deletes files and folders', async () => {
    await c.write('del/sub/f.txt', Buffer.from('x'), { mkdirs: true })
    await expectError(c.remove('del'), 409, 'directory_not_empty')
    await c.remove('del/sub/f.txt')
    await expectError(c.stat('del/sub/f.txt'), 404, 'path_not_found')
    await c.write('del/sub/g.txt', Buffer.from('x'))
    await c.remove('del', true)
    await expectError(c.stat('del'), 404, 'path_not_found')
    await expectError(c.remove('del'), 404, 'path_not_found')
    await expectError(c.remove('/workspace', true), 422, 'invalid_path')
    await expectError(c.remove('/', true), 422, 'invalid_path')
    await expectError(c.remove('..', true), 422, 'invalid_path')
    await expectError(c.remove('/usr/bin/env'), 403, 'permission_denied')
  })
})

describe('lifecycle', () => {
  it('stops gracefully on SIGTERM and removes its socket', async () => {
    const { pid } = await c.health()
    await c.exec({ command: `kill -TERM ${pid}`, timeout_ms: 5000 })
    let err: AppError | undefined
    for (let i = 0; i < 100 && !err; i++) {
      err = await c.health().then(
        () => undefined,
        (e: unknown) => e as AppError,
      )
      if (!err) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(err).toMatchObject({ status: 503, code: 'instance_unavailable' })
    expect(sb.stderr()).toContain('clawlet stopping')
    // What stays is its own logs (clawlet.log, desktop.log): no socket.
    const left = execFileSync('ls', [sb.run]).toString().split('\n').filter(Boolean)
    expect(left.filter((f) => !f.endsWith('.log'))).toEqual([])
  })
})
