import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Clawport, ClawportError, errorFrom } from '../packages/sdk/src/index.js'
import { clientEnv, runProgram } from './helpers/clients.js'
import { TEST_ENV } from './helpers/plans.js'
import { buildOnce } from './helpers/sandbox.js'
import { REPO, startServer, type TestServer } from './helpers/server.js'

describe('the TypeScript SDK', () => {
  let s: TestServer
  let client: Clawport
  let id: string

  beforeAll(async () => {
    buildOnce()
    s = await startServer(TEST_ENV)
    client = new Clawport({ baseUrl: `${s.url}/api`, apiKey: s.adminKey })
  })
  afterAll(() => s?.destroy())

  it('is generated from the current OpenAPI document (run npm run sdk:generate when this fails)', async () => {
    const { generateSdk, SDK_DIR } = await import(path.join(REPO, 'scripts/generate-sdk.mjs'))
    const files: Record<string, string> = await generateSdk()
    for (const [rel, text] of Object.entries(files))
      expect(fs.readFileSync(path.join(SDK_DIR, rel), 'utf8') === text, `packages/sdk/${rel} is stale`).toBe(
        true,
      )
    // The served document is the same one.
    const served = (await s.api('GET', '/api/openapi.json')).body
    expect(Object.keys(served.paths)).toEqual(Object.keys(JSON.parse(files['openapi.json'] as string).paths))
  })

  it('type-checks as its own package', async () => {
    const tsc = await runProgram(
      path.join(REPO, 'node_modules/.bin/tsc'),
      ['-p', 'packages/sdk/tsconfig.json', '--noEmit'],
      {
        cwd: REPO,
      },
    )
    expect(tsc.code, tsc.stdout).toBe(0)
  })

  it('drives instances, files and commands with typed answers and typed errors', async () => {
    expect(await client.instances.findReady()).toBeUndefined()
    const created = await client.instances.create({ name: 'sdk' })
    expect(created.status).toBe('provisioning')
    const inst = await client.instances.waitReady(created.id)
    id = inst.id
    expect(inst.name).toBe('sdk')
    expect((await client.instances.list()).map((i) => i.id)).toEqual([id])
    expect((await client.instances.status(id)).sandbox).toMatchObject({
      running: true,
      pid: expect.any(Number),
    })
    await client.files.mkdir(id, 'dir/sub')
    expect(await client.files.write(id, 'dir/a.txt', 'hello')).toEqual({
      path: '/workspace/dir/a.txt',
      size: 5,
    })
    expect((await client.files.read(id, 'dir/a.txt')).content).toBe('hello')
    const bytes = new Uint8Array([0, 1, 2, 250, 255])
    await client.files.upload(id, 'dir/b.bin', bytes)
    expect(await client.files.download(id, 'dir/b.bin')).toEqual(bytes)
    expect((await client.files.stat(id, 'dir/b.bin')).size).toBe(5)
    await client.files.move(id, 'dir/a.txt', 'dir/c.txt')
    expect((await client.files.list(id, 'dir')).entries.map((e) => e.name).sort()).toEqual([
      'b.bin',
      'c.txt',
      'sub',
    ])
    await client.files.remove(id, 'dir', true)
    const run = await client.terminal.exec(id, 'echo $((2+3)); exit 2', { timeout_ms: 10_000 })
    expect(run).toMatchObject({ stdout: '5\n', exit_code: 2, timed_out: false })
    const err = await client.files.read(id, 'dir/c.txt').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClawportError)
    expect(err).toMatchObject({ status: 404, code: 'path_not_found' })
    // Any operation through the typed request().
    const me = await client.request('get', '/api/me')
    expect(me).toEqual((await s.api('GET', '/api/me')).body)
  })

  it('sends headers made per request, and reads the errors of raw responses', async () => {
    let calls = 0
    const byHeader = new Clawport({
      baseUrl: s.url,
      headers: () => {
        calls++
        return { authorization: `Bearer ${s.adminKey}` }
      },
    })
    expect((await byHeader.instances.list()).map((i) => i.id)).toEqual([id])
    await byHeader.instances.get(id)
    expect(calls).toBe(2)
    expect(byHeader.headers({ accept: 'text/plain' })).toEqual({
      authorization: `Bearer ${s.adminKey}`,
      accept: 'text/plain',
    })
    const err = await errorFrom(await fetch(`${s.url}/api/instances/nope`, { headers: byHeader.headers() }))
    expect(err).toMatchObject({ status: 404, code: 'instance_not_found' })
    const anonymous = await new Clawport({ baseUrl: s.url }).instances.list().catch((e: unknown) => e)
    expect(anonymous).toMatchObject({ status: 401, code: 'unauthorized' })
  })

  it('opens the terminal WebSocket with a ticket', async () => {
    const ws = await client.terminal.connect(id, { cols: 90, rows: 20 })
    let out = ''
    const exit = await new Promise<number>((resolve, reject) => {
      ws.onerror = () => reject(new Error('socket error'))
      ws.onmessage = (m) => {
        if (typeof m.data === 'string') {
          const msg = JSON.parse(m.data)
          if (msg.type === 'ready') ws.send(new TextEncoder().encode('stty size; exit 3\n'))
          if (msg.type === 'exit') resolve(msg.code)
        } else out += new TextDecoder().decode(m.data as ArrayBuffer)
      }
    })
    ws.close()
    expect(exit).toBe(3)
    expect(out).toContain('20 90')
  })

  it('runs its examples that need no agent', async () => {
    const r = await runProgram(process.execPath, ['examples/terminal.ts'], {
      cwd: path.join(REPO, 'packages/sdk'),
      env: clientEnv(s.url, s.adminKey, id),
      timeoutMs: 30_000,
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/hi from claw-/)
  })
})
