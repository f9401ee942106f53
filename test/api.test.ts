import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import YAML from 'yaml'
import { type InProcess, inProcess } from './helpers/app.js'

const UUID = '3b1f8a52-9a43-4c1e-9a57-2f4d1c0e7a11'

function expectError(res: { status: number; body: any }, status: number, code?: string) {
  expect(res.status).toBe(status)
  expect(res.body).toMatchObject({ status, code: code ?? expect.any(String), message: expect.any(String) })
  expect(res.body.message.length).toBeGreaterThan(5)
}

describe('discovery, keys and errors (in process)', () => {
  let t: InProcess
  let key: string

  beforeAll(async () => {
    t = await inProcess()
    key = await t.user('alice@example.com', 'pro')
  })
  afterAll(() => t.close())

  it('describes itself at /api and /api/ without a key', async () => {
    for (const url of ['/api', '/api/']) {
      const res = await t.inject('GET', url)
      expect(res.status).toBe(200)
      expect(res.body.name).toBe('Clawport')
      expect(res.body.auth.keys_url).toMatch(/\/account$/)
      expect(res.body.links.openapi_json).toMatch(/\/api\/openapi\.json$/)
      for (const link of ['docs', 'llms_txt', 'llms_full', 'agent_md', 'openapi_yaml', 'skill']) {
        expect(res.body.links[link]).toMatch(/^http/)
      }
      expect(res.body.resources).toContain('/api/instances')
    }
  })

  it('serves OpenAPI 3.1 as JSON and YAML, generated from the routes', async () => {
    const json = await t.inject('GET', '/api/openapi.json')
    expect(json.status).toBe(200)
    expect(json.body.openapi).toBe('3.1.0')
    const ops = Object.values(
      json.body.paths as Record<string, Record<string, { operationId?: string }>>,
    ).flatMap((p) => Object.values(p).map((o) => o.operationId))
    for (const op of ['instances.list', 'instances.create', 'files.upload', 'terminal.exec', 'keys.create']) {
      expect(ops).toContain(op)
    }
    expect(json.body.paths['/api/instances/{id}/files/upload'].post).toMatchObject({
      operationId: 'files.upload',
    })
    const yaml = await t.inject('GET', '/api/openapi.yaml')
    expect(yaml.status).toBe(200)
    expect(String(yaml.headers['content-type'])).toContain('yaml')
    expect(YAML.parse(yaml.body).paths).toEqual(json.body.paths)
  })

  it('refuses missing, malformed and unknown keys with 401 and the error shape', async () => {
    expectError(await t.inject('GET', '/api/instances'), 401, 'unauthorized')
    expectError(
      await t.inject('GET', '/api/instances', null, undefined, { authorization: 'Token abc' }),
      401,
      'unauthorized',
    )
    expectError(await t.inject('GET', '/api/instances', 'sk_live_nope'), 401, 'invalid_api_key')
    expectError(await t.inject('GET', '/api/instances', 'not-a-key'), 401, 'invalid_api_key')
  })

  it('creates a key shown once, lists it without the secret, and revokes it at once', async () => {
    const created = await t.inject('POST', '/api/keys', key, { name: 'ci' })
    expect(created.status).toBe(201)
    expect(created.body.key).toMatch(/^sk_live_[A-Za-z0-9_-]{20,}$/)
    expect(created.body.key.startsWith(created.body.prefix)).toBe(true)
    const fresh = created.body.key as string
    expect((await t.inject('GET', '/api/me', fresh)).status).toBe(200)
    const list = await t.inject('GET', '/api/keys', key)
    expect(Array.isArray(list.body)).toBe(true)
    expect(list.body.find((k: any) => k.id === created.body.id)).toMatchObject({
      name: 'ci',
      prefix: created.body.prefix,
    })
    expect(JSON.stringify(list.body)).not.toContain(fresh)
    const row = await t.services.store.keys.getForUser(
      (await t.services.accounts.userByEmail('alice@example.com')).id,
      created.body.id,
    )
    expect(row?.key_hash).not.toContain(fresh.slice(8))
    expect((await t.inject('DELETE', `/api/keys/${created.body.id}`, key)).status).toBe(204)
    expectError(await t.inject('GET', '/api/me', fresh), 401, 'api_key_revoked')
    expectError(await t.inject('DELETE', `/api/keys/${created.body.id}`, key), 404, 'api_key_not_found')
  })

  it('refuses expired keys with 401', async () => {
    const user = await t.services.accounts.userByEmail('alice@example.com')
    const k = await t.services.keys.create(user.id, 'short', new Date(Date.now() + 150).toISOString())
    expect((await t.inject('GET', '/api/me', k.key)).status).toBe(200)
    await new Promise((r) => setTimeout(r, 200))
    expectError(await t.inject('GET', '/api/me', k.key), 401, 'api_key_expired')
    expectError(
      await t.inject('POST', '/api/keys', key, { name: 'x', expires_at: '2000-01-01T00:00:00Z' }),
      422,
    )
  })

  it('reports the user, plan, limit and usage', async () => {
    const me = await t.inject('GET', '/api/me', key)
    expect(me.body).toMatchObject({
      email: 'alice@example.com',
      plan: 'pro',
      instance_limit: 3,
      usage: { instances: 0 },
    })
  })

  it('answers bad input with 4xx and the error shape, never 500', async () => {
    expectError(await t.inject('POST', '/api/keys', key, { name: 42 }), 422, 'validation_failed')
    expectError(await t.inject('POST', '/api/keys', key, {}), 422, 'validation_failed')
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/keys',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: '{"name": ',
    })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ code: 'invalid_json', status: 400 })
    expectError(await t.inject('GET', '/api/nope', key), 404, 'route_not_found')
    expectError(await t.inject('GET', '/api/instances/not-a-uuid', key), 404, 'instance_not_found')
    expectError(await t.inject('GET', `/api/instances/${UUID}`, key), 404, 'instance_not_found')
    expectError(await t.inject('POST', `/api/instances/${UUID}/terminal/exec`, key, { command: '' }), 422)
    expectError(await t.inject('GET', `/api/instances/${UUID}/files/read`, key), 422)
  })
})

describe('instance access rules (in process)', () => {
  let t: InProcess

  beforeAll(async () => {
    t = await inProcess()
  })
  afterAll(() => t.close())

  it('403 without a subscription, and for unknown, used-up and expired invites', async () => {
    const key = await t.user('bob@example.com')
    expectError(await t.inject('POST', '/api/instances', key), 403, 'subscription_required')
    expectError(
      await t.inject('POST', '/api/instances', key, { invite_code: 'inv_unknown' }),
      403,
      'invite_invalid',
    )
    const expired = await t.services.invites.create({ uses: 1, plan: 'pro', expiresInDays: 1 })
    // Age the invite past its expiry directly in the store.
    const past = new Date(Date.now() - 1000).toISOString()
    await t.services.store.invites.create({ ...expired, code: 'inv_expired', expires_at: past })
    expectError(
      await t.inject('POST', '/api/instances', key, { invite_code: 'inv_expired' }),
      403,
      'invite_expired',
    )
    await t.services.store.invites.create({
      ...expired,
      code: 'inv_used',
      max_uses: 1,
      used_count: 1,
      expires_at: null,
    })
    expectError(
      await t.inject('POST', '/api/instances', key, { invite_code: 'inv_used' }),
      403,
      'invite_used_up',
    )
    expect((await t.inject('GET', '/api/instances', key)).body).toEqual([])
  })

  it('refuses bad create bodies with 422', async () => {
    const key = await t.user('carol@example.com', 'pro')
    expectError(await t.inject('POST', '/api/instances', key, { invite_code: 7 }), 422, 'validation_failed')
    expectError(await t.inject('POST', '/api/instances', key, { name: '' }), 422, 'validation_failed')
  })
})

describe('capacity and rate limits (in process)', () => {
  it('503 when the server is full, before any invite is spent', async () => {
    const t = await inProcess({ CLAWPORT_MAX_INSTANCES: '0' })
    try {
      const key = await t.user('dan@example.com')
      const invite = await t.services.invites.create({ uses: 1, plan: 'pro' })
      expectError(
        await t.inject('POST', '/api/instances', key, { invite_code: invite.code }),
        503,
        'no_capacity',
      )
      expect((await t.services.store.invites.get(invite.code))?.used_count).toBe(0)
    } finally {
      await t.close()
    }
  })

  it('413 for a JSON body over the limit', async () => {
    const t = await inProcess({ CLAWPORT_BODY_LIMIT_BYTES: '1024' })
    try {
      const key = await t.user('gil@example.com', 'pro')
      expectError(
        await t.inject('POST', '/api/keys', key, { name: 'x'.repeat(4096) }),
        413,
        'payload_too_large',
      )
      expect(
        await t.services.keys.list((await t.services.accounts.userByEmail('gil@example.com')).id),
      ).toHaveLength(1)
    } finally {
      await t.close()
    }
  })

  it('429 with Retry-After past the per-key rate', async () => {
    const t = await inProcess({ CLAWPORT_RATE_LIMIT_PER_MIN: '5' })
    try {
      const key = await t.user('erin@example.com', 'pro')
      const other = await t.user('fay@example.com', 'pro')
      for (let i = 0; i < 5; i++) expect((await t.inject('GET', '/api/instances', key)).status).toBe(200)
      const limited = await t.inject('GET', '/api/instances', key)
      expectError(limited, 429, 'rate_limited')
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
      expect((await t.inject('GET', '/api/instances', other)).status).toBe(200)
    } finally {
      await t.close()
    }
  })
})
