import fs from 'node:fs'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { createServices, type Services } from '../src/core/services.js'
import { errors } from '../src/errors.js'
import { buildApp } from '../src/http/app.js'
import { createLogger } from '../src/log.js'
import { prettyLine } from '../src/log-pretty.js'
import { tempDataDir } from './helpers/server.js'

/** Every line the server logged, parsed. */
const lines: Array<Record<string, any>> = []
let raw = ''
const capture = new Writable({
  write(chunk, _enc, done) {
    raw += chunk.toString()
    for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l))
    done()
  },
})

let dataDir: string
let services: Services
let app: FastifyInstance
let key: string
let keyId: string

beforeAll(async () => {
  dataDir = tempDataDir('clawport-logging-')
  const config = loadConfig({ CLAWPORT_DATA_DIR: dataDir, CLAWPORT_MAX_INSTANCES: '0' })
  const log = createLogger('info', capture)
  services = await createServices(config, log)
  app = await buildApp(services, log)
  // A bug: no route of the service throws anything but an AppError on purpose.
  app.get('/test/bug', async () => {
    throw new TypeError('cannot read properties of undefined')
  })
  app.get('/test/slow-upstream', async () => {
    throw errors.upstreamTimeout('The model did not answer in time.')
  })
  const u = await services.accounts.createUser({ email: 'log@example.com', plan: 'free' })
  const created = await services.keys.create(u.id, 'test')
  key = created.key
  keyId = created.id
})

afterAll(async () => {
  await app?.close()
  await services?.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
})

async function get(url: string, headers: Record<string, string> = {}, method = 'GET', payload?: object) {
  const before = lines.length
  const res = await app.inject({ method: method as 'GET', url, headers, ...(payload ? { payload } : {}) })
  return { res, logged: lines.slice(before) }
}

describe('server logs', () => {
  it('writes one access line per request with the route pattern, status, time and key id', async () => {
    const id = '00000000-0000-4000-8000-000000000001'
    const { res, logged } = await get(`/api/instances/${id}?ticket=tk_verysecret`, {
      authorization: `Bearer ${key}`,
    })
    expect(res.statusCode).toBe(404)
    const access = logged.filter((l) => l.msg === 'request')
    expect(access).toHaveLength(1)
    expect(access[0]).toMatchObject({
      level: 30,
      method: 'GET',
      route: '/api/instances/:id',
      status: 404,
      keyId,
      instanceId: id,
    })
    expect(typeof access[0]?.ms).toBe('number')
    expect(JSON.stringify(logged)).not.toContain('tk_verysecret')
    expect(JSON.stringify(logged)).not.toContain(key)
  })

  it('logs user errors at warn with their code and no stack', async () => {
    const { res, logged } = await get('/api/instances', {}, 'GET')
    expect(res.statusCode).toBe(401)
    const refused = logged.find((l) => l.msg === 'request refused')
    expect(refused).toMatchObject({ level: 40, code: 'unauthorized', status: 401 })
    expect(refused?.err).toBeUndefined()
    expect(logged.some((l) => l.level >= 50)).toBe(false)
  })

  it('logs an expected 5xx (no capacity, upstream timeout) at warn with its code, not as a bug', async () => {
    const full = await get('/api/instances', { authorization: `Bearer ${key}` }, 'POST', {})
    expect(full.res.statusCode).toBe(503)
    expect(full.logged.find((l) => l.msg === 'request failed')).toMatchObject({
      level: 40,
      code: 'no_capacity',
      status: 503,
    })
    const slow = await get('/test/slow-upstream', { authorization: `Bearer ${key}` })
    expect(slow.res.statusCode).toBe(504)
    const line = slow.logged.find((l) => l.msg === 'request failed')
    expect(line).toMatchObject({ level: 40, code: 'upstream_timeout' })
    expect(line?.err).toBeUndefined()
    expect([...full.logged, ...slow.logged].some((l) => l.level >= 50)).toBe(false)
  })

  it('logs a bug at error with its stack, and answers without it', async () => {
    const { res, logged } = await get('/test/bug', { authorization: `Bearer ${key}` })
    expect(res.statusCode).toBe(500)
    expect(res.body).not.toContain('cannot read properties')
    const bug = logged.find((l) => l.msg === 'request failed')
    expect(bug).toMatchObject({ level: 50, code: 'internal_error' })
    expect(bug?.err?.stack).toContain('TypeError: cannot read properties of undefined')
    expect(logged.find((l) => l.msg === 'request')).toMatchObject({ status: 500, route: '/test/bug' })
  })

  it('redacts secret-shaped fields at any depth', () => {
    const log = createLogger('info', capture).child({ component: 'test' })
    const before = raw.length
    log.info(
      {
        apiKey: 's1-top',
        upstream: { api_key: 's2-nested', auth: { token: 's3-deeper' } },
        a: { b: { c: { password: 's4-deep', d: { secret: 's5-deepest' } } } },
        req: { headers: { authorization: 'Bearer s6', cookie: 'clawport_session=s7', 'x-api-key': 's8' } },
        res: { headers: { 'set-cookie': 's9' } },
        tokens: 12,
      },
      'upstream configured',
    )
    const out = raw.slice(before)
    for (const s of [
      's1-top',
      's2-nested',
      's3-deeper',
      's4-deep',
      's5-deepest',
      'Bearer s6',
      's7',
      's8',
      's9',
    ])
      expect(out).not.toContain(s)
    expect(out).toContain('[redacted]')
    // A field that only looks like one keeps its value.
    expect(JSON.parse(out).tokens).toBe(12)
  })

  it('prints readable lines for a terminal', () => {
    const line = JSON.stringify({
      level: 40,
      time: Date.UTC(2026, 0, 1, 12, 0, 1),
      component: 'http',
      msg: 'request refused',
      code: 'unauthorized',
      reason: 'Missing API key.',
    })
    expect(prettyLine(line, false)).toBe(
      '12:00:01.000 WARN  [http] request refused code=unauthorized reason="Missing API key."\n',
    )
  })
})
