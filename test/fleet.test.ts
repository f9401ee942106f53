import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { REPO, startServer, TestServer, tempDataDir } from './helpers/server.js'

const execFileP = promisify(execFile)
const BIN = path.join(REPO, 'bin/clawport.js')

/** Runs a `clawport` client command; resolves with its exit code and output. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...TEST_ENV, CLAWPORT_LOG_LEVEL: 'warn', ...env },
      timeout: 120_000,
    })
    return { code: 0, out: stdout + stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, out: e.stdout + e.stderr }
  }
}

async function statuses(s: TestServer, keys: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const key of Object.values(keys)) {
    for (const i of (await s.api('GET', '/api/instances', { key })).body as Array<{
      id: string
      status: string
    }>)
      out[i.id] = i.status
  }
  return out
}

describe('stop and start every instance', () => {
  let s: TestServer
  const keys: Record<string, string> = {}
  const ids: string[] = []
  beforeAll(async () => {
    s = await startServer(TEST_ENV)
    keys.admin = s.adminKey
    keys.ann = await s.user('ann@example.com', 'team')
    keys.bob = await s.user('bob@example.com', 'team')
    for (const who of ['ann', 'ann', 'bob']) ids.push((await s.readyInstance(keys[who])).id)
  })
  afterAll(async () => {
    await s?.destroy()
  })

  it('through the server, with an administrator key only', async () => {
    const refused = await s.api('POST', '/api/admin/instances/stop-all', { key: keys.ann })
    expect(refused.status).toBe(403)
    expect(Object.values(await statuses(s, keys))).toEqual(['ready', 'ready', 'ready'])

    const stop = await cli([
      'instances',
      'stop',
      '--all',
      '--base-url',
      s.url,
      '--api-key',
      keys.admin as string,
    ])
    expect(stop.code).toBe(0)
    expect(stop.out).toContain('stopped 3 of 3')
    for (const id of ids) expect(stop.out).toMatch(new RegExp(`${id}  ready +-> stopped`))
    expect(Object.values(await statuses(s, keys))).toEqual(['stopped', 'stopped', 'stopped'])

    const start = await cli([
      'instances',
      'start',
      '--all',
      '--json',
      '--base-url',
      s.url,
      '--api-key',
      keys.admin as string,
    ])
    expect(start.code).toBe(0)
    const answer = JSON.parse(start.out) as {
      done: number
      failed: number
      instances: Array<{ status: string }>
    }
    expect(answer).toMatchObject({ done: 3, failed: 0 })
    expect(Object.values(await statuses(s, keys))).toEqual(['ready', 'ready', 'ready'])
    expect((await s.exec(ids[2] as string, 'echo up', {}, keys.bob)).stdout).toBe('up\n')
  })

  it('on a data folder: refused while a server holds it, done once it is gone', async () => {
    const held = await cli(['instances', 'stop', '--all', '--data-dir', s.dataDir])
    expect(held.code).toBe(2)
    expect(held.out).toContain(`pid ${s.pid}`)
    expect(held.out).toContain('--base-url')

    await s.stop()
    const start = await cli(['instances', 'start', '--all', '--data-dir', s.dataDir])
    expect(start.code).toBe(2)
    expect(start.out).toContain('needs a running server')

    const stop = await cli(['instances', 'stop', '--all', '--data-dir', s.dataDir])
    expect(stop.out).toContain('stopped 3 of 3')
    expect(stop.code).toBe(0)
    await s.start()
    expect(Object.values(await statuses(s, keys))).toEqual(['stopped', 'stopped', 'stopped'])
    // Stopped for real: no sandbox was left to re-adopt.
    const exec = await s.api('POST', `/api/instances/${ids[0]}/terminal/exec`, {
      key: keys.ann,
      body: { command: 'true' },
    })
    expect(exec.status).toBe(409)
  })

  it('serve --stop-instances-on-exit stops them all on SIGTERM', async () => {
    await cli(['instances', 'start', '--all', '--base-url', s.url, '--api-key', keys.admin as string])
    await s.stop()
    const owner = new TestServer(s.dataDir, TEST_ENV)
    owner.adminKey = s.adminKey
    owner.serveArgs = ['--stop-instances-on-exit']
    await owner.start()
    expect(Object.values(await statuses(owner, keys))).toEqual(['ready', 'ready', 'ready'])
    await owner.stop()
    expect(owner.proc.exitCode).toBe(0)
    await s.start()
    expect(Object.values(await statuses(s, keys))).toEqual(['stopped', 'stopped', 'stopped'])
  })
})

describe('stop --all on an empty data folder', () => {
  it('says there was nothing to do', async () => {
    const dir = tempDataDir()
    const r = await cli(['instances', 'stop', '--all', '--data-dir', dir])
    expect(r.code).toBe(0)
    expect(r.out).toContain('stopped 0 of 0')
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
