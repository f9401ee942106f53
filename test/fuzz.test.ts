import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcess, inProcess } from './helpers/app.js'

type Op = { method: string; path: string; op: any }

/** Values that have broken servers before: wrong types, huge, unicode, path tricks, NUL. */
const nasty = fc.oneof(
  fc.constantFrom(
    '',
    '..',
    '../../../../etc/passwd',
    '/etc/shadow',
    '/proc/1/environ',
    'a\u0000b',
    '%00',
    '\u202e\u0000',
    '😀'.repeat(50),
    'x'.repeat(70_000),
    `${'d/'.repeat(2000)}f`,
    '-1',
    '1e309',
    'NaN',
    'true',
    'null',
    '{"$ne":1}',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
)
const anyJson = fc.oneof(
  nasty,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(nasty, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 12 }), nasty, { maxKeys: 4 }),
)

/** A body built from the operation's own schema, with each field replaced by a hostile value. */
function bodyFor(op: any) {
  const schema = op.requestBody?.content?.['application/json']?.schema
  const keys = Object.keys(schema?.properties ?? {})
  if (keys.length === 0) return anyJson
  return fc.oneof(fc.record(Object.fromEntries(keys.map((k) => [k, anyJson])), { requiredKeys: [] }), anyJson)
}

function queryFor(op: any) {
  const names: string[] = (op.parameters ?? [])
    .filter((p: any) => p.in === 'query')
    .map((p: any) => p.name)
    // A live SSE follow never ends; it is tested elsewhere.
    .filter((n: string) => n !== 'stream' && n !== 'wait_ms')
  return fc.record(Object.fromEntries(names.map((n) => [n, nasty])), { requiredKeys: [] })
}

describe('every endpoint under hostile input (generated from the OpenAPI document)', () => {
  let t: InProcess
  let key: string
  let ops: Op[]
  let instanceId: string

  beforeAll(async () => {
    t = await inProcess()
    // No plan: creates are refused, so no hostile body can start a real sandbox.
    key = await t.user('fuzz@example.com')
    const user = await t.services.accounts.userByEmail('fuzz@example.com')
    // A stopped instance the caller owns: requests get past ownership into validation and state checks.
    instanceId = randomUUID()
    const at = new Date().toISOString()
    await t.services.store.instances.insert({
      id: instanceId,
      user_id: user.id,
      name: null,
      status: 'stopped',
      desired_state: 'stopped',
      host_uid: 299_999,
      resources: { memory_mb: 256, cpus: 1, pids_max: 64, disk_mb: 64 },
      error: null,
      created_at: at,
      updated_at: at,
      started_at: null,
    })
    const doc = (await t.inject('GET', '/api/openapi.json')).body
    ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([m]) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
        .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    )
  })
  afterAll(() => t?.close())

  it('covers a real API', () => {
    expect(ops.length).toBeGreaterThan(25)
  })

  it('never answers 5xx, always the error shape, for hostile params, queries and bodies', async () => {
    const failures: string[] = []
    for (const { method, path, op } of ops) {
      const hasBody = !!op.requestBody
      // Lifecycle actions on the owned instance would boot a real sandbox: aim them elsewhere.
      const lifecycle =
        /\/(start|reboot|shutdown|sleep|wake)$/.test(path) ||
        (method === 'DELETE' && path === '/api/instances/{id}')
      await fc
        .assert(
          fc.asyncProperty(
            fc.record({
              id: lifecycle ? nasty : fc.oneof(fc.constant(instanceId), nasty),
              other: nasty,
              query: queryFor(op),
              body: hasBody ? bodyFor(op) : fc.constant(undefined),
            }),
            async ({ id, other, query, body }) => {
              // A bare `.` or `..` segment (escaped or not) is resolved by every URL parser before
              // a request is sent (`.../channels/..` is the instance itself): keep it a name.
              const segment = (v: string) => encodeURIComponent(/^\.{1,2}$/.test(v) ? `${v}/` : v)
              let url = path.replace('{id}', segment(id)).replace(/\{[^}]+\}/g, segment(other))
              const qs = new URLSearchParams(query as Record<string, string>).toString()
              if (qs) url += `?${qs}`
              const res = await t.app.inject({
                method: method as 'GET',
                url,
                headers: {
                  authorization: `Bearer ${key}`,
                  ...(hasBody ? { 'content-type': 'application/json' } : {}),
                },
                ...(hasBody ? { payload: JSON.stringify(body ?? null) } : {}),
              })
              const ok = res.statusCode < 500 || res.statusCode === 503
              let shaped = true
              if (res.statusCode >= 400) {
                const b = res.json()
                shaped =
                  typeof b.message === 'string' && typeof b.code === 'string' && b.status === res.statusCode
              }
              if (!ok || !shaped)
                failures.push(`${method} ${url.slice(0, 120)} -> ${res.statusCode} ${res.body.slice(0, 200)}`)
              return ok && shaped
            },
          ),
          { numRuns: 25, endOnFailure: true },
        )
        .catch(() => {})
    }
    expect(failures).toEqual([])
  }, 240_000)

  it('refuses every private endpoint without a valid key, before looking at anything else', async () => {
    for (const { method, path, op } of ops) {
      if (Array.isArray(op.security) && op.security.length === 0) continue
      const url = path.replace(/\{[^}]+\}/g, instanceId)
      for (const auth of [undefined, 'Bearer sk_live_forged', 'Basic abc']) {
        const res = await t.app.inject({
          method: method as 'GET',
          url,
          headers: auth ? { authorization: auth } : {},
        })
        expect({ method, path, auth, status: res.statusCode }).toEqual({ method, path, auth, status: 401 })
        expect(res.json().status).toBe(401)
      }
    }
  })

  it('treats revoked and expired keys as no key, and hides the instance from every other user', async () => {
    const owner = await t.services.accounts.userByEmail('fuzz@example.com')
    const revoked = await t.services.keys.create(owner.id, 'revoked')
    await t.services.keys.revoke(owner.id, revoked.id)
    const expiring = await t.services.keys.create(
      owner.id,
      'expiring',
      new Date(Date.now() + 50).toISOString(),
    )
    await new Promise((r) => setTimeout(r, 80))
    const stranger = await t.user('stranger@example.com', 'pro')
    const instanceOps = ops.filter((o) => o.path.startsWith('/api/instances/{id}'))
    expect(instanceOps.length).toBeGreaterThan(15)
    for (const { method, path, op } of ops) {
      // Public routes (discovery, sign-in, pipeline webhooks with their own secret) take no key.
      if (path === '/api' || path.startsWith('/api/auth/')) continue
      if (Array.isArray(op.security) && op.security.length === 0) continue
      const url = path.replace(/\{[^}]+\}/g, instanceId)
      for (const [secret, code] of [
        [revoked.key, 'api_key_revoked'],
        [expiring.key, 'api_key_expired'],
      ] as const) {
        const res = await t.app.inject({
          method: method as 'GET',
          url,
          headers: { authorization: `Bearer ${secret}` },
        })
        if (res.statusCode === 200 && method === 'GET' && !path.includes('{')) continue
        expect({ method, path, status: res.statusCode, code: res.json().code }).toEqual({
          method,
          path,
          status: 401,
          code,
        })
      }
    }
    // Another user's instance answers exactly like an instance that does not exist.
    const ghost = randomUUID()
    const ask = (id: string, method: string, path: string) =>
      t.app.inject({
        method: method as 'GET',
        url: `${path.replace('{id}', id).replace(/\{[^}]+\}/g, 'x')}?path=x&session_id=x`,
        headers: { authorization: `Bearer ${stranger}`, 'content-type': 'application/json' },
        payload:
          method === 'GET' || method === 'DELETE' ? undefined : '{"path":"x","message":"x","command":"x"}',
      })
    for (const { method, path } of instanceOps) {
      const real = await ask(instanceId, method, path)
      const none = await ask(ghost, method, path)
      const seen = (r: typeof real) => ({ method, path, status: r.statusCode, code: r.json().code })
      expect(seen(real)).toEqual(seen(none))
      expect({ path, status: real.statusCode }).toEqual({ path, status: expect.toBeOneOf([404, 422, 426]) })
      expect(real.body).not.toContain('stopped')
    }
  })

  it('leaves the instance as it was: hostile input changed nothing', async () => {
    const row = await t.services.store.instances.get(instanceId)
    expect(row).toMatchObject({ status: 'stopped', host_uid: 299_999, name: null })
  })
})
