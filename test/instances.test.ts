import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV, TEST_PLANS } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'

describe('instances on a real server with real sandboxes', () => {
  let s: TestServer
  let id: string

  beforeAll(async () => {
    s = await startServer(TEST_ENV)
  })
  afterAll(() => s?.destroy())

  it('creates an instance that goes from provisioning to ready', async () => {
    const res = await s.api('POST', '/api/instances', { body: { name: 'first' } })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ status: 'provisioning', name: 'first' })
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(res.body.sandbox_id).toBe(`sbx_${res.body.id.replaceAll('-', '').slice(0, 16)}`)
    expect(res.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    id = res.body.id
    const ready = await s.waitStatus(id, 'ready')
    expect(Date.parse(ready.started_at)).toBeGreaterThanOrEqual(Date.parse(res.body.created_at))
    const status = await s.api('GET', `/api/instances/${id}/status`)
    expect(status.body).toMatchObject({
      id,
      status: 'ready',
      ready: true,
      sandbox: { running: true },
      clawlet: { ok: true },
    })
    expect(status.body.uptime_ms).toBeGreaterThanOrEqual(0)
  })

  it('lists instances as a bare array, newest first', async () => {
    const second = await s.readyInstance()
    const list = await s.api('GET', '/api/instances')
    expect(Array.isArray(list.body)).toBe(true)
    expect(list.body.map((i: { id: string }) => i.id)).toEqual([second.id, id])
    expect((await s.api('DELETE', `/api/instances/${second.id}`)).status).toBe(204)
  })

  it('runs commands: output, stderr, exit codes, stdin, env, cwd', async () => {
    const ok = await s.exec(id, 'echo hello; echo oops >&2; exit 3')
    expect(ok).toMatchObject({ stdout: 'hello\n', stderr: 'oops\n', exit_code: 3, timed_out: false })
    expect((await s.exec(id, 'pwd')).stdout).toBe('/workspace\n')
    expect((await s.exec(id, 'id -un; id -u')).stdout).toBe('claw\n1000\n')
    expect((await s.exec(id, 'cat', { stdin: 'from stdin' })).stdout).toBe('from stdin')
    expect((await s.exec(id, 'echo $GREETING', { env: { GREETING: 'hi there' } })).stdout).toBe('hi there\n')
    await s.exec(id, 'mkdir -p sub/dir')
    expect((await s.exec(id, 'pwd', { cwd: 'sub/dir' })).stdout).toBe('/workspace/sub/dir\n')
    const missingCwd = await s.api('POST', `/api/instances/${id}/terminal/exec`, {
      body: { command: 'pwd', cwd: 'nope' },
    })
    expect(missingCwd.status).toBe(404)
    expect((await s.exec(id, 'exit 0')).exit_code).toBe(0)
    const bad = await s.api('POST', `/api/instances/${id}/terminal/exec`, {
      body: { command: 'true', timeout_ms: 'soon' },
    })
    expect(bad.status).toBe(422)
  })

  it('kills a command past its timeout, with its whole process group', async () => {
    const res = await s.exec(id, 'sleep 300 & sleep 301; echo never', { timeout_ms: 500 })
    expect(res.timed_out).toBe(true)
    expect(res.stdout).not.toContain('never')
    const ps = await s.exec(id, 'ps -eo args')
    expect(ps.stdout).not.toMatch(/sleep 30[01]/)
  })

  it('shuts down keeping the workspace, starts again, and reboots', async () => {
    await s.exec(id, 'echo kept > kept.txt')
    const down = await s.api('POST', `/api/instances/${id}/shutdown`)
    expect(down.status).toBe(202)
    expect(down.body.status).toBe('stopping')
    await s.waitStatus(id, 'stopped')
    const notReady = await s.api('POST', `/api/instances/${id}/terminal/exec`, { body: { command: 'true' } })
    expect(notReady.status).toBe(409)
    expect(notReady.body.code).toBe('instance_not_ready')
    expect((await s.api('GET', `/api/instances/${id}/status`)).body.sandbox.running).toBe(false)
    const up = await s.api('POST', `/api/instances/${id}/start`)
    expect(up.status).toBe(202)
    await s.waitStatus(id, 'ready')
    expect((await s.exec(id, 'cat kept.txt')).stdout).toBe('kept\n')
    const before = (await s.exec(id, 'cat /proc/1/stat | cut -d" " -f22')).stdout
    const reboot = await s.api('POST', `/api/instances/${id}/reboot`)
    expect(reboot.status).toBe(202)
    expect(reboot.body.status).toBe('rebooting')
    await s.waitStatus(id, 'ready')
    expect((await s.exec(id, 'cat kept.txt')).stdout).toBe('kept\n')
    expect((await s.exec(id, 'cat /proc/1/stat | cut -d" " -f22')).stdout).not.toBe(before)
  })

  it('deletes an instance and its workspace', async () => {
    const other = await s.readyInstance()
    const dir = path.join(s.dataDir, 'instances', other.id)
    expect(fs.existsSync(dir)).toBe(true)
    expect((await s.api('DELETE', `/api/instances/${other.id}`)).status).toBe(204)
    expect((await s.api('GET', `/api/instances/${other.id}`)).status).toBe(404)
    expect(fs.existsSync(dir)).toBe(false)
    expect((await s.api('DELETE', `/api/instances/${other.id}`)).status).toBe(404)
  })

  it('gives another user 404 on every instance route, never 403', async () => {
    const mallory = await s.user('mallory@example.com', 'pro')
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `/api/instances/${id}`],
      ['GET', `/api/instances/${id}/status`],
      ['POST', `/api/instances/${id}/reboot`],
      ['POST', `/api/instances/${id}/shutdown`],
      ['POST', `/api/instances/${id}/start`],
      ['GET', `/api/instances/${id}/files`],
      ['GET', `/api/instances/${id}/files/read?path=kept.txt`],
      ['GET', `/api/instances/${id}/files/stat?path=kept.txt`],
      ['GET', `/api/instances/${id}/files/download?path=kept.txt`],
      ['POST', `/api/instances/${id}/files/write`, { path: 'x', content: 'x' }],
      ['POST', `/api/instances/${id}/files/upload`, { targetDir: '/workspace', fileName: 'x', content: 'x' }],
      ['POST', `/api/instances/${id}/files/mkdir`, { path: 'x' }],
      ['POST', `/api/instances/${id}/files/move`, { from: 'kept.txt', to: 'y' }],
      ['DELETE', `/api/instances/${id}/files?path=kept.txt`],
      ['POST', `/api/instances/${id}/terminal/exec`, { command: 'true' }],
      ['DELETE', `/api/instances/${id}`],
    ]
    for (const [method, url, body] of routes) {
      const res = await s.api(method, url, { key: mallory, body })
      expect({ url, method, status: res.status, code: res.body.code }).toEqual({
        url,
        method,
        status: 404,
        code: 'instance_not_found',
      })
    }
    expect((await s.api('GET', '/api/instances', { key: mallory })).body).toEqual([])
    expect((await s.exec(id, 'cat kept.txt')).stdout).toBe('kept\n')
  })

  it('applies the plan limit and redeems invites when creating', async () => {
    const key = await s.user('ivy@example.com')
    expect((await s.api('POST', '/api/instances', { key })).status).toBe(403)
    const invite = (await s.admin('invite', 'create', '--uses', '1', '--plan', 'solo'))
      .trim()
      .split('\n')
      .at(-1) as string
    const created = await s.api('POST', '/api/instances', { key, body: { invite_code: invite } })
    expect(created.status).toBe(201)
    const me = await s.api('GET', '/api/me', { key })
    expect(me.body).toMatchObject({ plan: 'solo', instance_limit: 1, usage: { instances: 1 } })
    const over = await s.api('POST', '/api/instances', { key })
    expect(over.status).toBe(403)
    expect(over.body.code).toBe('instance_limit_reached')
    const reused = await s.api('POST', '/api/instances', { key, body: { invite_code: invite } })
    expect(reused.status).toBe(403)
    expect(reused.body.code).toBe('invite_used_up')
    await s.waitStatus(created.body.id, 'ready', key)
    expect((await s.api('DELETE', `/api/instances/${created.body.id}`, { key })).status).toBe(204)
  })

  it("follows its plan: a plan's larger disk reaches an existing instance at its next start", async () => {
    const key = await s.user('grows@example.com', 'solo')
    const grown = (await s.readyInstance(key)).id
    const diskMb = async () =>
      Number((await s.exec(grown, 'df -Pm /workspace | tail -1', {}, key)).stdout.trim().split(/\s+/)[1])
    await s.exec(grown, 'echo before the upgrade > note.txt', {}, key)
    expect(await diskMb()).toBeLessThanOrEqual(128)

    // The operator raises the plan's disk and restarts the server; the instance keeps running.
    const plans = JSON.parse(TEST_PLANS) as Array<{ name: string; disk_mb?: number }>
    const solo = plans.find((p) => p.name === 'solo')
    if (solo) solo.disk_mb = 256
    await s.stop()
    s.env.CLAWPORT_PLANS = JSON.stringify(plans)
    try {
      await s.start()
      expect(await diskMb()).toBeLessThanOrEqual(128)
      expect((await s.api('POST', `/api/instances/${grown}/reboot`, { key })).status).toBe(202)
      await s.waitStatus(grown, 'ready', key)
      expect(await diskMb()).toBeGreaterThan(200)
      expect((await s.exec(grown, 'cat note.txt', {}, key)).stdout).toBe('before the upgrade\n')
    } finally {
      s.env.CLAWPORT_PLANS = TEST_PLANS
    }
  })
})
