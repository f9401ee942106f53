import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientEnv, runNode } from './helpers/clients.js'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'

/** The skill's client script as an agent gets it: downloaded from the server, run with env vars. */
describe('the skill client (clawport.mjs) against a real server', () => {
  let s: TestServer
  let dir: string
  let script: string
  let id: string
  const skill = (args: string[], env: Record<string, string> = {}) =>
    runNode(script, args, { env: { ...clientEnv(s.url, s.adminKey), ...env }, cwd: dir })
  const json = async (args: string[], env: Record<string, string> = {}) => {
    const r = await skill(args, env)
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout)
  }

  beforeAll(async () => {
    s = await startServer(TEST_ENV)
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-skill-'))
    script = path.join(dir, 'clawport.mjs')
    fs.writeFileSync(script, await (await fetch(`${s.url}/skills/clawport/clawport.mjs`)).text())
  })
  afterAll(async () => {
    await s?.destroy()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('describes the server, and fails with HTTP <status>: <message> without a ready instance', async () => {
    expect((await json(['root'])).name).toBe('Clawport')
    expect(await json(['instances', 'list'])).toEqual([])
    const none = await skill(['exec', 'true'])
    expect(none.code).not.toBe(0)
    expect(none.stderr).toMatch(/^HTTP 409: No ready instance/)
    const badKey = await skill(['instances', 'list'], { OPENCLAW_API_KEY: 'sk_live_nope' })
    expect(badKey.code).toBe(1)
    expect(badKey.stderr.trim()).toBe('HTTP 401: The API key is not valid.')
    const usage = await skill(['bogus'])
    expect(usage.code).toBe(2)
  })

  it('creates an instance and finds it as the ready one', async () => {
    const created = await json(['instances', 'create', '--wait', '--name', 'skill'])
    expect(created).toMatchObject({ status: 'ready', name: 'skill' })
    id = created.id
    expect((await json(['instances', 'list']))[0].id).toBe(id)
    // Without OPENCLAW_INSTANCE_ID the ready instance is used.
    expect((await json(['exec', 'echo', 'found'])).stdout).toBe('found\n')
  })

  it('reads, writes and lists files; makes folders', async () => {
    const env = { OPENCLAW_INSTANCE_ID: id }
    expect(await json(['files', 'mkdir', 'proj/src'], env)).toEqual({ path: '/workspace/proj/src' })
    expect(await json(['files', 'write', 'proj/a.txt', 'hello', 'skill'], env)).toMatchObject({ size: 11 })
    const piped = await runNode(script, ['files', 'write', 'proj/b.txt'], {
      env: { ...clientEnv(s.url, s.adminKey, id) },
      input: 'from stdin\n',
    })
    expect(piped.code, piped.stderr).toBe(0)
    expect((await json(['files', 'read', 'proj/a.txt'], env)).content).toBe('hello skill')
    expect((await json(['files', 'read', '/workspace/proj/b.txt'], env)).content).toBe('from stdin\n')
    const names = (await json(['files', 'list', 'proj'], env)).entries.map((e: any) => e.name).sort()
    expect(names).toEqual(['a.txt', 'b.txt', 'src'])
    const missing = await skill(['files', 'read', 'nope.txt'], env)
    expect(missing.stderr.trim()).toBe('HTTP 404: /workspace/nope.txt does not exist.')
  })

  it('uploads a tree: text files go, binary and oversized files are reported as skipped', async () => {
    const tree = path.join(dir, 'tree')
    fs.mkdirSync(path.join(tree, 'src/deep'), { recursive: true })
    fs.mkdirSync(path.join(tree, '.git'))
    fs.writeFileSync(path.join(tree, 'README.md'), '# tree\n')
    fs.writeFileSync(path.join(tree, 'src/main.js'), 'console.log("ünïcode")\n')
    fs.writeFileSync(path.join(tree, 'src/deep/notes.txt'), 'deep\n')
    fs.writeFileSync(path.join(tree, 'src/logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]))
    fs.writeFileSync(path.join(tree, 'src/latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]))
    fs.writeFileSync(path.join(tree, 'big.log'), 'x'.repeat(5000))
    fs.writeFileSync(path.join(tree, '.git/HEAD'), 'ref: main\n')
    fs.symlinkSync('README.md', path.join(tree, 'link.md'))
    const report = await json(
      ['files', 'upload-tree', tree, '--to', '/workspace/up', '--max-bytes', '4096'],
      {
        OPENCLAW_INSTANCE_ID: id,
      },
    )
    expect(report.target).toBe('/workspace/up')
    expect(report.uploaded.map((u: any) => u.path).sort()).toEqual([
      '/workspace/up/README.md',
      '/workspace/up/src/deep/notes.txt',
      '/workspace/up/src/main.js',
    ])
    const skipped = Object.fromEntries(report.skipped.map((x: any) => [x.path, x.reason]))
    expect(skipped).toEqual({
      '.git': 'ignored',
      'big.log': 'too_large',
      'link.md': 'not_a_file',
      'src/latin1.txt': 'binary',
      'src/logo.png': 'binary',
    })
    const listing = await s.exec(id, 'cd up && find . -type f | sort && cat src/main.js')
    expect(listing.stdout).toBe('./README.md\n./src/deep/notes.txt\n./src/main.js\nconsole.log("ünïcode")\n')
  })

  it('runs commands with a timeout', async () => {
    const env = { OPENCLAW_INSTANCE_ID: id }
    expect(await json(['exec', 'echo $((6*7)); exit 3'], env)).toMatchObject({ stdout: '42\n', exit_code: 3 })
    expect(await json(['exec', 'sleep 5', '--timeout-ms', '300'], env)).toMatchObject({ timed_out: true })
  })
})
