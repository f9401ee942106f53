import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'
import { TEST_PLANS } from './helpers/plans.js'
import { doorClient } from './helpers/route-matrix.js'
import { insertInstanceRow } from './helpers/rows.js'

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status).toBe(status)
  expect(res.body).toMatchObject({ status, code, message: expect.any(String) })
}

/**
 * Administrators disabling, enabling and deleting users, opening their instances, and editing
 * pipelines; in process, instances as rows with no sandbox behind them.
 */
describe('admin: disable, delete and look after users (in process)', () => {
  let t: InProcess
  let adminId: string
  let adminKey: string

  /** A user with a password and a key; answers their id and key. */
  async function user(email: string, plan = 'pro'): Promise<{ id: string; key: string }> {
    const res = await t.inject('POST', '/api/admin/users', adminKey, {
      email,
      plan,
      password: 'user-password',
    })
    expect(res.status).toBe(201)
    return { id: res.body.id, key: (await t.services.keys.create(res.body.id, 'k')).key }
  }

  /** Signs in like the dashboard; answers the Cookie header, or the failed answer. */
  async function signIn(email: string) {
    const res = await t.inject('POST', '/api/auth/login', null, { email, password: 'user-password' })
    const set = ([] as string[]).concat((res.headers['set-cookie'] as string[] | undefined) ?? [])
    return { res, cookie: set.map((c) => c.split(';')[0]).join('; ') }
  }

  beforeAll(async () => {
    t = await inProcess({ CLAWPORT_PLANS: TEST_PLANS, CLAWPORT_GATEWAY: 'off' })
    const admin = await t.services.accounts.createUser({
      email: 'root@example.com',
      admin: true,
      plan: 'pro',
    })
    adminId = admin.id
    adminKey = (await t.services.keys.create(admin.id, 'k')).key
  })
  afterAll(() => t?.close())

  it('a disabled user cannot use their keys or sign-ins, nor sign in, nor start their pipelines, until enabled again', async () => {
    const u = await user('dora@example.com')
    const { cookie } = await signIn('dora@example.com')
    expect((await t.inject('GET', '/api/me', null, undefined, { cookie })).status).toBe(200)
    const pipe = await t.inject('POST', '/api/pipelines', u.key, {
      name: 'hooked',
      webhook: true,
      steps: [
        {
          name: 's',
          type: 'exec',
          instance_id: await insertInstanceRow(t.services.store, u.id),
          command: 'true',
        },
      ],
    })
    const hook = new URL(pipe.body.webhook_url, 'http://x').pathname

    const off = await t.inject('POST', `/api/admin/users/${u.id}/disable`, adminKey)
    expect(off.status).toBe(200)
    expect(off.body.disabled_at).toEqual(expect.any(String))
    const byKey = await t.inject('GET', '/api/instances', u.key)
    expectError(byKey, 401, 'user_disabled')
    expect(byKey.body.message).toMatch(/disabled by an administrator/)
    expectError(await t.inject('GET', '/api/me', null, undefined, { cookie }), 401, 'unauthorized')
    const session = await t.inject('GET', '/api/auth/session', null, undefined, { cookie })
    expect(session.body.signed_in).toBe(false)
    expectError((await signIn('dora@example.com')).res, 401, 'user_disabled')
    expectError(await t.inject('POST', hook, null, {}), 401, 'user_disabled')
    // A wrong password still says only that: being disabled is told to who knows the password.
    const wrong = await t.inject('POST', '/api/auth/login', null, {
      email: 'dora@example.com',
      password: 'nope-nope',
    })
    expectError(wrong, 401, 'invalid_credentials')
    const listed = await t.inject('GET', '/api/admin/users', adminKey)
    expect(listed.body.find((x: { id: string }) => x.id === u.id).disabled_at).toEqual(expect.any(String))

    const on = await t.inject('POST', `/api/admin/users/${u.id}/enable`, adminKey)
    expect(on.status).toBe(200)
    expect(on.body.disabled_at).toBeNull()
    expect((await t.inject('GET', '/api/instances', u.key)).status).toBe(200)
    expect((await signIn('dora@example.com')).res.status).toBe(200)
    expect((await t.inject('POST', hook, null, {})).status).toBe(202)
  })

  it('an administrator cannot disable or delete themselves; others cannot do either', async () => {
    expectError(await t.inject('POST', `/api/admin/users/${adminId}/disable`, adminKey), 409, 'own_account')
    expectError(await t.inject('DELETE', `/api/admin/users/${adminId}`, adminKey), 409, 'own_account')
    expect((await t.inject('GET', '/api/me', adminKey)).status).toBe(200)
    const u = await user('eve@example.com')
    const other = await user('frank@example.com')
    expectError(await t.inject('POST', `/api/admin/users/${other.id}/disable`, u.key), 403, 'admin_required')
    expectError(await t.inject('DELETE', `/api/admin/users/${other.id}`, u.key), 403, 'admin_required')
    expectError(await t.inject('POST', '/api/admin/users/nobody/disable', adminKey), 404, 'not_found')
  })

  it('deleting a user with instances is refused until they are gone; then the user and their data go', async () => {
    const u = await user('gina@example.com')
    const inst = await insertInstanceRow(t.services.store, u.id)
    const pipe = await t.inject('POST', '/api/pipelines', u.key, {
      name: 'p',
      steps: [{ name: 's', type: 'exec', instance_id: inst, command: 'true' }],
    })
    expect(pipe.status).toBe(201)
    const refused = await t.inject('DELETE', `/api/admin/users/${u.id}`, adminKey)
    expectError(refused, 409, 'user_has_instances')
    expect(refused.body.message).toMatch(/gina@example\.com still has 1 instance; delete it first/)
    expect((await t.inject('GET', `/api/instances/${inst}`, u.key)).status).toBe(200)

    await t.services.store.instances.remove(inst)
    expect((await t.inject('DELETE', `/api/admin/users/${u.id}`, adminKey)).status).toBe(204)
    expectError(await t.inject('GET', '/api/instances', u.key), 401, 'invalid_api_key')
    expect(await t.services.store.users.byId(u.id)).toBeUndefined()
    expect(await t.services.store.automation.pipelines.get(pipe.body.id)).toBeUndefined()
    const listed = await t.inject('GET', '/api/admin/users', adminKey)
    expect(listed.body.map((x: { email: string }) => x.email)).not.toContain('gina@example.com')
    expectError(await t.inject('DELETE', `/api/admin/users/${u.id}`, adminKey), 404, 'not_found')
  })

  it("an administrator lists a user's instances and opens them; a stranger and an instance's door still get 404", async () => {
    const u = await user('hana@example.com')
    const stranger = await user('ivan@example.com')
    const inst = await insertInstanceRow(t.services.store, u.id)
    const listed = await t.inject('GET', `/api/admin/users/${u.id}/instances`, adminKey)
    expect(listed.status).toBe(200)
    expect(listed.body.map((i: { id: string }) => i.id)).toEqual([inst])
    expectError(
      await t.inject('GET', `/api/admin/users/${u.id}/instances`, stranger.key),
      403,
      'admin_required',
    )

    expect((await t.inject('GET', `/api/instances/${inst}`, adminKey)).body.id).toBe(inst)
    expect((await t.inject('GET', `/api/instances/${inst}/events`, adminKey)).status).toBe(200)
    expectError(await t.inject('GET', `/api/instances/${inst}`, stranger.key), 404, 'instance_not_found')
    expectError(
      await t.inject('GET', `/api/instances/${inst}/events`, stranger.key),
      404,
      'instance_not_found',
    )
    // The admin's own list stays theirs.
    const own = await t.inject('GET', '/api/instances', adminKey)
    expect(own.body.map((i: { id: string }) => i.id)).not.toContain(inst)

    // Nothing of the user's is tied into the admin's own pipelines or inbox messages.
    const pipe = await t.inject('POST', '/api/pipelines', adminKey, {
      name: 'p',
      steps: [{ name: 's', type: 'exec', instance_id: inst, command: 'true' }],
    })
    expectError(pipe, 404, 'instance_not_found')
    expectError(
      await t.inject('POST', `/api/instances/${inst}/inbox`, adminKey, { message: 'hi' }),
      404,
      'instance_not_found',
    )

    // From inside the admin's own instance, the user's is as unknown as to anyone.
    const mine = await insertInstanceRow(t.services.store, adminId)
    const door = await doorClient(t.doorHandler(), { instanceId: mine, userId: adminId }, t.dataDir)
    try {
      expect((await door.request('GET', `/api/instances/${mine}`)).status).toBe(200)
      expect((await door.request('GET', `/api/instances/${inst}`)).status).toBe(404)
    } finally {
      await door.close()
    }
  })

  it('a pipeline is edited in place: new name and steps, its runs and webhook kept', async () => {
    const u = await user('jo@example.com')
    const a = await insertInstanceRow(t.services.store, u.id)
    const b = await insertInstanceRow(t.services.store, u.id)
    const created = await t.inject('POST', '/api/pipelines', u.key, {
      name: 'first',
      webhook: true,
      steps: [{ name: 'one', type: 'exec', instance_id: a, command: 'true' }],
    })
    expect(created.status).toBe(201)
    const id = created.body.id
    const secret = String(created.body.webhook_url).split('/').pop()
    const edited = await t.inject('PUT', `/api/pipelines/${id}`, u.key, {
      name: 'second',
      webhook: true,
      steps: [{ name: 'two', type: 'chat', instance_id: b, message: 'hello' }],
    })
    expect(edited.status).toBe(200)
    expect(edited.body).toMatchObject({ id, name: 'second', webhook: true })
    expect(edited.body.webhook_url).toBeUndefined()
    expect(edited.body.steps).toEqual([
      expect.objectContaining({ name: 'two', type: 'chat', instance_id: b }),
    ])
    expect((await t.inject('GET', `/api/pipelines/${id}`, u.key)).body.name).toBe('second')
    // The webhook kept its URL.
    const hook = await t.inject('POST', `/api/pipelines/${id}/webhook/${secret}`, null, {})
    expect(hook.status).toBe(202)

    const other = await user('kim@example.com')
    const foreign = await t.inject('PUT', `/api/pipelines/${id}`, other.key, {
      name: 'x',
      steps: [{ name: 's', type: 'exec', instance_id: a, command: 'true' }],
    })
    expectError(foreign, 404, 'pipeline_not_found')
    const bad = await t.inject('PUT', `/api/pipelines/${id}`, u.key, { name: 'x', steps: [] })
    expectError(bad, 422, 'validation_failed')
  })

  it('documents the new routes in OpenAPI', async () => {
    const doc = (await t.inject('GET', '/api/openapi.json')).body
    const ops = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap(
      (p) => Object.values(p).map((o) => o.operationId),
    )
    for (const op of [
      'admin.users.disable',
      'admin.users.enable',
      'admin.users.delete',
      'admin.users.instances',
      'pipelines.update',
    ])
      expect(ops).toContain(op)
    expect(doc.paths['/api/admin/users/{id}'].delete.description).toMatch(
      /Refused with 409 `user_has_instances`/,
    )
  })
})
