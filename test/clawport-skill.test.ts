import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'
import { insertInstanceRow } from './helpers/rows.js'

const REPO = path.resolve(import.meta.dirname, '..')
const MISSING = '3b1f8a52-9a43-4c1e-9a57-2f4d1c0e7a11'

type SkillModule = typeof import('../src/clawlet/clawport-skill.ts')

/**
 * The skill the clawlet writes into every workspace, from the build the sandbox runs (dist/,
 * built by the run's global setup), its helper run against a real door: the app's door handler
 * served on a local port with one instance as the caller, as CLAWPORT_API_URL is inside it.
 */
describe('the clawport skill in a workspace (in process)', () => {
  let t: InProcess
  let door: http.Server
  let api: string
  let workspace: string
  let skill: SkillModule
  let self: string
  let sibling: string

  beforeAll(async () => {
    const built = path.join(REPO, 'dist/clawlet/clawport-skill.js')
    if (!fs.existsSync(built)) throw new Error('dist/ is not built (npx tsc -p tsconfig.build.json)')
    skill = await import(pathToFileURL(built).href)
    t = await inProcess({ CLAWPORT_GATEWAY: 'off' })
    const user = await t.services.accounts.createUser({ email: 'skill@example.com', plan: 'pro' })
    self = await insertInstanceRow(t.services.store, user.id)
    sibling = await insertInstanceRow(t.services.store, user.id)
    await t.services.store.instances.update(sibling, { name: 'builder' })
    const handler = t.doorHandler()
    door = http.createServer((req, res) => handler({ instanceId: self, userId: user.id }, req, res))
    await new Promise<void>((resolve) => door.listen(0, '127.0.0.1', resolve))
    api = `http://127.0.0.1:${(door.address() as AddressInfo).port}/api`
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-workspace-'))
    await skill.installClawportSkill(workspace)
  })
  afterAll(async () => {
    await new Promise((resolve) => door?.close(resolve))
    await t?.close()
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true })
  })

  const helper = () => path.join(workspace, skill.SKILL_DIR, 'clawport.mjs')

  /** Runs the helper as `node clawport.mjs ...` would: its own argv, environment, output and exit code. */
  async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const worker = new Worker(helper(), { argv, env: { CLAWPORT_API_URL: api }, stdout: true, stderr: true })
    let stdout = ''
    let stderr = ''
    worker.stdout.on('data', (c: Buffer) => {
      stdout += c
    })
    worker.stderr.on('data', (c: Buffer) => {
      stderr += c
    })
    const code = await new Promise<number>((resolve, reject) => {
      worker.once('error', reject)
      worker.once('exit', resolve)
    })
    return { code, stdout, stderr }
  }

  it('writes SKILL.md and the built helper, executable and without the build source map, once', async () => {
    const dir = path.join(workspace, skill.SKILL_DIR)
    expect(fs.readFileSync(path.join(dir, 'SKILL.md'), 'utf8')).toBe(skill.SKILL_MD)
    const script = fs.readFileSync(helper(), 'utf8')
    expect(script.startsWith('#!/usr/bin/env node\n')).toBe(true)
    expect(script).not.toContain('sourceMappingURL')
    expect(script).not.toMatch(/^import .* from '(?!node:)/m)
    expect(fs.statSync(helper()).mode & 0o777).toBe(0o755)
    const before = fs.statSync(helper()).mtimeMs
    await skill.installClawportSkill(workspace)
    expect(fs.statSync(helper()).mtimeMs).toBe(before)
  })

  it('prints itself and its siblings through the door', async () => {
    const whoami = await run('whoami')
    expect(whoami).toMatchObject({ code: 0, stderr: '' })
    const me = JSON.parse(whoami.stdout)
    expect(me.instance.id).toBe(self)
    expect(me.swarm).toBeNull()
    expect(me.siblings.map((i: any) => i.id)).toEqual([sibling])

    expect(await run('siblings')).toEqual({ code: 0, stdout: `${sibling}  builder  ready\n`, stderr: '' })
  })

  it('prints help with no command; a refused call or a missing argument goes to stderr with exit 1', async () => {
    const help = await run()
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^commands:\n {2}whoami /)

    expect(await run('exec', MISSING, 'ls')).toEqual({
      code: 1,
      stdout: '',
      stderr: `clawport: 404 instance_not_found: Instance ${MISSING} was not found.\n`,
    })
    expect(await run('ask')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'clawport: name an instance (see "siblings")\n',
    })
    expect(await run('broadcast', 'hello')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'clawport: this instance is not in a swarm\n',
    })
  })
})
