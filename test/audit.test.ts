import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuditService } from '../src/core/audit.js'
import { nowIso } from '../src/core/time.js'
import { createLogger } from '../src/log.js'
import { type InProcess, inProcess } from './helpers/app.js'
import { doorClient } from './helpers/route-matrix.js'
import { insertInstanceRow } from './helpers/rows.js'

const MISSING = '3b1f8a52-9a43-4c1e-9a57-2f4d1c0e7a11'
const OTHER = '0c7e9a3b-5d2f-4e61-8b4a-9f1d2e3c4b5a'

describe('audit log (in process)', () => {
  let t: InProcess
  let alice: { id: string; key: string; keyId: string }
  let bob: { id: string; key: string }
  let admin: { id: string; key: string }

  async function account(email: string, opts: { admin?: boolean; password?: string } = {}) {
    const u = await t.services.accounts.createUser({
      email,
      plan: 'pro',
      ...(opts.password ? { password: opts.password } : {}),
    })
    if (opts.admin) await t.services.store.users.setAdmin(u.id, true, new Date().toISOString())
    const k = await t.services.keys.create(u.id, 'test')
    return { id: u.id, key: k.key, keyId: k.id }
  }

  beforeAll(async () => {
    t = await inProcess({ CLAWPORT_GATEWAY: 'off' })
    alice = await account('alice@example.com', { password: 'alice-password' })
    bob = await account('bob@example.com')
    admin = await account('root@example.com', { admin: true })
  })
  afterAll(() => t.close())

  it('records every write with its caller, action, instance, status and address; not reads', async () => {
    const created = await t.inject('POST', '/api/keys', alice.key, { name: 'ci' })
    expect(created.status).toBe(201)
    await t.inject('GET', '/api/keys', alice.key)
    const write = await t.inject('POST', `/api/instances/${MISSING}/files/write`, alice.key, {
      path: 'a.txt',
      content: 'x',
    })
    expect(write.status).toBe(404)
    await t.inject('DELETE', `/api/keys/${created.body.id}`, alice.key)
    // Refused before a caller is known: nothing to attribute.
    await t.inject('POST', '/api/keys', 'sk_live_not_a_key', { name: 'nope' })

    const res = await t.inject('GET', '/api/audit', alice.key)
    expect(res.status).toBe(200)
    expect(res.body.map((e: any) => [e.action, e.status, e.instance_id])).toEqual([
      ['keys.revoke', 204, null],
      ['files.write', 404, MISSING],
      ['keys.create', 201, null],
    ])
    const [revoke] = res.body
    expect(revoke).toMatchObject({
      user_id: alice.id,
      actor: 'api_key',
      actor_id: alice.keyId,
      method: 'DELETE',
      route: '/api/keys/:id',
      ip: '127.0.0.1',
    })
    expect(revoke.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(res.body[0].id).toBeGreaterThan(res.body[1].id)
  })

  it('filters by instance, pages back with before and limit', async () => {
    for (let i = 0; i < 3; i++)
      await t.inject('POST', `/api/instances/${OTHER}/terminal/exec`, alice.key, { command: 'true' })
    const only = await t.inject('GET', `/api/audit?instance_id=${OTHER}`, alice.key)
    expect(only.body).toHaveLength(3)
    expect(only.body.every((e: any) => e.instance_id === OTHER && e.action === 'terminal.exec')).toBe(true)
    const page1 = await t.inject('GET', '/api/audit?limit=2', alice.key)
    expect(page1.body).toHaveLength(2)
    const page2 = await t.inject('GET', `/api/audit?limit=2&before=${page1.body[1].id}`, alice.key)
    expect(page2.body).toHaveLength(2)
    expect(page2.body[0].id).toBeLessThan(page1.body[1].id)
    const bad = await t.inject('GET', '/api/audit?limit=0', alice.key)
    expect(bad.status).toBe(422)
  })

  it('shows each user only their own entries; administrators may name a user', async () => {
    await t.inject('POST', '/api/keys', bob.key, { name: 'bob' })
    const own = await t.inject('GET', '/api/audit', bob.key)
    expect(own.body.map((e: any) => e.action)).toEqual(['keys.create'])
    expect(own.body.every((e: any) => e.user_id === bob.id)).toBe(true)
    const peek = await t.inject('GET', `/api/audit?user_id=${alice.id}`, bob.key)
    expect(peek.status).toBe(403)
    expect(peek.body.code).toBe('admin_required')
    expect((await t.inject('GET', `/api/audit?user_id=${bob.id}`, bob.key)).status).toBe(200)
    const asAdmin = await t.inject('GET', `/api/audit?user_id=${alice.id}`, admin.key)
    expect(asAdmin.status).toBe(200)
    expect(asAdmin.body.length).toBeGreaterThan(3)
    expect(asAdmin.body.every((e: any) => e.user_id === alice.id)).toBe(true)
    expect((await t.inject('GET', '/api/audit')).status).toBe(401)
  })

  it('names the web session of a dashboard write', async () => {
    const login = await t.services.webSessions.login('alice@example.com', 'alice-password')
    const res = await t.inject(
      'POST',
      '/api/keys',
      null,
      { name: 'from the page' },
      {
        host: 'localhost:80',
        cookie: `clawport_session=${encodeURIComponent(login.token)}`,
        'x-csrf-token': login.csrf,
      },
    )
    expect(res.status).toBe(201)
    const [entry] = (await t.inject('GET', '/api/audit?limit=1', alice.key)).body
    expect(entry).toMatchObject({ action: 'keys.create', actor: 'web_session', status: 201 })
    expect(entry.actor_id).not.toContain(login.token)
  })

  it('removes entries past the retention period, keeps the rest', async () => {
    const day = 24 * 60 * 60_000
    const now = Date.now()
    const entry = (ageDays: number, action: string) => ({
      created_at: new Date(now - ageDays * day).toISOString(),
      user_id: alice.id,
      actor: 'api_key',
      actor_id: alice.keyId,
      action,
      method: 'POST',
      route: '/api/test',
      instance_id: null,
      status: 200,
      ip: '127.0.0.1',
    })
    await t.services.store.audit.insert([
      entry(120, 'old.one'),
      entry(91, 'old.two'),
      entry(89, 'recent.one'),
    ])
    // The server's default keeps 90 days.
    expect(t.services.config.store.auditRetentionDays).toBe(90)
    expect(await t.services.audit.prune(now)).toBe(2)
    const actions = (await t.inject('GET', '/api/audit?limit=200', alice.key)).body.map(
      (e: { action: string }) => e.action,
    )
    expect(actions).toContain('recent.one')
    expect(actions).not.toContain('old.one')
    expect(actions).not.toContain('old.two')
    expect(await t.services.audit.prune(now)).toBe(0)
  })

  it('keeps everything when retention is 0', async () => {
    const keep = await inProcess({ CLAWPORT_GATEWAY: 'off', CLAWPORT_AUDIT_RETENTION_DAYS: '0' })
    try {
      const u = await keep.services.accounts.createUser({ email: 'keep@example.com', plan: 'pro' })
      await keep.services.store.audit.insert([
        {
          created_at: new Date(Date.now() - 3650 * 24 * 60 * 60_000).toISOString(),
          user_id: u.id,
          actor: 'api_key',
          actor_id: 'k',
          action: 'ancient',
          method: 'POST',
          route: '/api/test',
          instance_id: null,
          status: 200,
          ip: '',
        },
      ])
      expect(await keep.services.audit.prune()).toBe(0)
      expect((await keep.services.store.audit.list({ userId: u.id, limit: 10 })).length).toBe(1)
    } finally {
      await keep.close()
    }
  })

  it('records a call from inside an instance (no address) in the same batch as a key call, both kept', async () => {
    const id = await insertInstanceRow(t.services.store, alice.id, 'stopped')
    const door = await doorClient(t.doorHandler(), { instanceId: id, userId: alice.id }, t.dataDir)
    try {
      // Together, within one flush window: one batch.
      const [inside, outside] = await Promise.all([
        door.request('POST', `/api/instances/${MISSING}/inbox`, { message: 'from inside' }),
        t.inject('POST', `/api/instances/${OTHER}/inbox`, alice.key, { message: 'from a key' }),
      ])
      expect([inside.status, outside.status]).toEqual([404, 404])
    } finally {
      await door.close()
    }
    const entries = (await t.inject('GET', '/api/audit?limit=2', alice.key)).body
    expect(entries.find((e: any) => e.instance_id === MISSING)).toMatchObject({
      action: 'inbox.send',
      actor: 'instance',
      actor_id: id,
      ip: null,
    })
    expect(entries.find((e: any) => e.instance_id === OTHER)).toMatchObject({
      action: 'inbox.send',
      actor: 'api_key',
      ip: '127.0.0.1',
    })
  })

  it('stores the good entries of a batch that one bad entry broke, and logs the bad one whole', async () => {
    const lines: string[] = []
    const audit = new AuditService(
      t.services.store,
      createLogger('warn', { write: (l: string) => lines.push(l) }),
    )
    const entry = (action: string) => ({
      created_at: nowIso(),
      user_id: bob.id,
      actor: 'api_key',
      actor_id: 'k',
      action,
      method: 'POST',
      route: '/api/test',
      instance_id: null,
      status: 200,
      ip: '127.0.0.1',
    })
    audit.record(entry('batch.first'))
    // A status the table refuses (NOT NULL).
    audit.record({ ...entry('batch.bad'), status: null as unknown as number })
    audit.record(entry('batch.last'))
    await audit.flush()
    const stored = (await t.services.store.audit.list({ userId: bob.id, limit: 50 })).map((e) => e.action)
    expect(stored).toContain('batch.first')
    expect(stored).toContain('batch.last')
    expect(stored).not.toContain('batch.bad')
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'audit entry could not be stored')
    expect(logged).toHaveLength(1)
    expect(logged[0].level).toBe(50)
    expect(logged[0].entry).toMatchObject({ action: 'batch.bad', user_id: bob.id, route: '/api/test' })
  })
})
