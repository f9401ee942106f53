import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import type { Caller } from '../src/core/keys.js'
import { hashPassword } from '../src/core/passwords.js'
import { StoreRateCounter } from '../src/core/rate-counter.js'
import { SecretBox } from '../src/core/secret-box.js'
import { createServices, type Services } from '../src/core/services.js'
import { SharedSignInLimiter } from '../src/core/sign-in-limiter.js'
import { nowIso } from '../src/core/time.js'
import { WsTicketService } from '../src/core/ws-tickets.js'
import { buildApp } from '../src/http/app.js'
import { rateLimitStore } from '../src/http/rate-limit-store.js'
import { createLogger } from '../src/log.js'
import type { Store } from '../src/store/index.js'
import { freshDatabase, havePostgres } from './helpers/postgres.js'
import { insertInstanceRow } from './helpers/rows.js'
import { tempDataDir } from './helpers/server.js'

/**
 * What replicas must agree on, through the store: a ticket minted on one is redeemed once on
 * any, rate limits and sign-in throttling count across them, and every replica seals with one
 * key. SQLite runs it with one process's services as both "replicas"; PostgreSQL with two sets
 * of services on one database, as two `clawport serve` processes have.
 */
const SECRET_KEY = randomBytes(32).toString('base64')

interface Replicas {
  a: Services
  b: Services
  close(): Promise<void>
}

interface Backend {
  name: string
  skip: boolean
  open(env?: Record<string, string>): Promise<Replicas>
}

async function services(env: Record<string, string>): Promise<{ s: Services; dataDir: string }> {
  const dataDir = tempDataDir('clawport-shared-')
  const config = loadConfig({ ...env, CLAWPORT_DATA_DIR: dataDir, CLAWPORT_LOG_LEVEL: 'silent' })
  return { s: await createServices(config, createLogger('silent')), dataDir }
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: false,
    async open(env = {}) {
      const { s, dataDir } = await services(env)
      return {
        a: s,
        b: s,
        async close() {
          await s.close()
          fs.rmSync(dataDir, { recursive: true, force: true })
        },
      }
    },
  },
  {
    name: 'postgres',
    skip: !havePostgres(),
    async open(env = {}) {
      const db = await freshDatabase('shared')
      const shared = { ...env, CLAWPORT_DATABASE_URL: db.url, CLAWPORT_SECRET_KEY: SECRET_KEY }
      // One after the other: the first migrates, the second finds nothing to do.
      const a = await services(shared)
      const b = await services(shared)
      return {
        a: a.s,
        b: b.s,
        async close() {
          await a.s.close()
          await b.s.close()
          for (const dir of [a.dataDir, b.dataDir]) fs.rmSync(dir, { recursive: true, force: true })
          await db.drop()
        },
      }
    },
  },
]

for (const backend of backends) {
  describe.skipIf(backend.skip)(`shared state (${backend.name})`, () => {
    let r: Replicas
    let caller: Caller
    let instanceId: string

    beforeAll(async () => {
      r = await backend.open()
      const user = await r.a.accounts.createUser({ email: 'owner@example.com', plan: 'pro' })
      const { key } = await r.a.keys.create(user.id, 'test')
      caller = await r.a.keys.authenticate(key)
      instanceId = await insertInstanceRow(r.a.store, user.id)
    })
    afterAll(() => r?.close())

    it('redeems a ticket minted on one replica once, on another', async () => {
      const { ticket, expires_at } = await r.a.wsTickets.issue(caller, instanceId)
      expect(ticket).toMatch(/^wst_/)
      expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan(50_000)
      const redeemed = await r.b.wsTickets.redeem(ticket, instanceId.toUpperCase())
      expect(redeemed).toMatchObject({ keyId: caller.keyId, user: { id: caller.user.id } })
      await expect(r.a.wsTickets.redeem(ticket, instanceId)).rejects.toMatchObject({ code: 'invalid_ticket' })
      await expect(r.b.wsTickets.redeem(ticket, instanceId)).rejects.toMatchObject({ status: 401 })
    })

    it('lets only one of many parallel redemptions of a ticket through', async () => {
      const { ticket } = await r.a.wsTickets.issue(caller, instanceId)
      const tries = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? r.a : r.b).wsTickets.redeem(ticket, instanceId)),
      )
      expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(1)
    })

    it('refuses an expired ticket, one for another instance, a made-up one and a revoked key’s', async () => {
      const shortLived = new WsTicketService(r.a.store, r.a.instances, r.a.keys, 50)
      const late = await shortLived.issue(caller, instanceId)
      await sleep(80)
      await expect(r.b.wsTickets.redeem(late.ticket, instanceId)).rejects.toMatchObject({
        code: 'invalid_ticket',
      })

      const other = await insertInstanceRow(r.a.store, caller.user.id)
      const forOther = await r.a.wsTickets.issue(caller, other)
      await expect(r.b.wsTickets.redeem(forOther.ticket, instanceId)).rejects.toMatchObject({ status: 401 })
      // Used up by the wrong try, as before tickets were stored.
      await expect(r.b.wsTickets.redeem(forOther.ticket, other)).rejects.toMatchObject({ status: 401 })
      await expect(r.b.wsTickets.redeem('wst_nope', instanceId)).rejects.toMatchObject({ status: 401 })

      const made = await r.a.keys.create(caller.user.id, 'soon revoked')
      const revokedCaller = await r.a.keys.authenticate(made.key)
      const held = await r.a.wsTickets.issue(revokedCaller, instanceId)
      await r.b.keys.revoke(caller.user.id, made.id)
      await expect(r.b.wsTickets.redeem(held.ticket, instanceId)).rejects.toMatchObject({ status: 401 })
    })

    it('keeps at most 50 unused tickets per user, dropping the oldest', async () => {
      const first = await r.a.wsTickets.issue(caller, instanceId)
      for (let i = 0; i < 50; i++) await (i % 2 ? r.a : r.b).wsTickets.issue(caller, instanceId)
      await expect(r.b.wsTickets.redeem(first.ticket, instanceId)).rejects.toMatchObject({ status: 401 })
      const last = await r.b.wsTickets.issue(caller, instanceId)
      await expect(r.a.wsTickets.redeem(last.ticket, instanceId)).resolves.toMatchObject({
        keyId: caller.keyId,
      })
    })

    it('counts rate-limited requests across two apps and starts over after the window', async () => {
      const prefix = `test:${randomBytes(4).toString('hex')}:`
      const apps = [r.a.store, r.b.store].map((store) => limitedApp(store, prefix, 3, 600))
      const [one, two] = (await Promise.all(apps)) as [FastifyInstance, FastifyInstance]
      try {
        const codes = []
        for (const app of [one, two, one, two]) codes.push((await app.inject('/')).statusCode)
        expect(codes).toEqual([200, 200, 200, 429])
        const over = await one.inject('/')
        expect(over.statusCode).toBe(429)
        expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1)
        await sleep(700)
        expect((await two.inject('/')).statusCode).toBe(200)
        expect((await one.inject('/')).headers['x-ratelimit-remaining']).toBe('1')
      } finally {
        await one.close()
        await two.close()
      }
    })

    it('counts parallel hits exactly once each', async () => {
      const counters = [new StoreRateCounter(r.a.store), new StoreRateCounter(r.b.store)] as const
      const hits = await Promise.all(
        Array.from({ length: 40 }, (_, i) => counters[i % 2 ? 1 : 0].hit('parallel', 60_000)),
      )
      expect(hits.map((h) => h.count).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      )
    })

    it('backs off sign-in guesses from one address whichever replica they reach', async () => {
      const [a, b] = [new SharedSignInLimiter(r.a.store), new SharedSignInLimiter(r.b.store)]
      const t0 = Date.now()
      // Three wrong passwords are free; the fourth is counted and holds the pair for a second.
      for (let i = 0; i < 4; i++) {
        const attempt = await (i % 2 ? a : b).reserve('203.0.113.5', 'x@example.com', t0 + i)
        expect('succeeded' in attempt).toBe(true)
      }
      const held = await a.reserve('203.0.113.5', 'x@example.com', t0 + 10)
      expect(held).toEqual({ retryAfterMs: 993 })
      // Another address trying the same account is not held up.
      expect('succeeded' in (await b.reserve('198.51.100.9', 'x@example.com', t0 + 10))).toBe(true)

      const later = await b.reserve('203.0.113.5', 'x@example.com', t0 + 1_100)
      if (!('succeeded' in later)) throw new Error(`held ${later.retryAfterMs} ms`)
      await later.succeeded()
      // The right password started the pair over.
      for (let i = 0; i < 3; i++)
        expect('succeeded' in (await a.reserve('203.0.113.5', 'x@example.com', t0 + 1_200))).toBe(true)
    })

    it('gives one address exactly its budget of parallel sign-in tries across replicas', async () => {
      const [a, b] = [new SharedSignInLimiter(r.a.store), new SharedSignInLimiter(r.b.store)]
      const now = Date.now()
      const tries = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          (i % 2 ? a : b).reserve('2001:db8:7::1', `guess${i}@example.com`, now),
        ),
      )
      expect(tries.filter((t) => 'succeeded' in t)).toHaveLength(30)
      // Another host in the same /64 shares the budget.
      expect(await a.reserve('2001:db8:7::2', 'guess0@example.com', now)).toHaveProperty('retryAfterMs')
    })
  })
}

describe.skipIf(!havePostgres())('shared limits through the API and sign-in (postgres)', () => {
  let r: Replicas
  let key: string
  let otherKey: string
  const apps: FastifyInstance[] = []

  beforeAll(async () => {
    r = await (backends[1] as Backend).open({
      CLAWPORT_RATE_LIMIT_PER_MIN: '4',
      CLAWPORT_INSTANCE_RATE_LIMIT_PER_MIN: '2',
    })
    const user = await r.a.accounts.createUser({ email: 'api@example.com', plan: 'pro' })
    key = (await r.a.keys.create(user.id, 'test')).key
    otherKey = (await r.a.keys.create(user.id, 'other')).key
    const log = createLogger('silent')
    apps.push(await buildApp(r.a, log), await buildApp(r.b, log))
  })
  afterAll(async () => {
    for (const app of apps) await app.close()
    await r?.close()
  })

  function get(app: FastifyInstance, url: string, bearer = key) {
    return app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${bearer}` } })
  }

  it('limits one instance’s work, and one key, across replicas', async () => {
    const [one, two] = apps as [FastifyInstance, FastifyInstance]
    const id = '3b1f8a52-9a43-4c1e-9a57-2f4d1c0e7a11'
    // The instance limit: two file requests, then the third (on the other replica) is refused.
    expect((await get(one, `/api/instances/${id}/files`)).statusCode).toBe(404)
    expect((await get(two, `/api/instances/${id}/files`)).statusCode).toBe(404)
    const instanceOver = await get(one, `/api/instances/${id}/files`)
    expect(instanceOver.statusCode).toBe(429)
    expect(instanceOver.json()).toMatchObject({ code: 'rate_limited' })
    // A key's limit: four a minute, whichever replica they reach.
    const codes = []
    for (const app of [one, two, one, two]) codes.push((await get(app, '/api/keys', otherKey)).statusCode)
    expect(codes).toEqual([200, 200, 200, 200])
    const keyOver = await get(one, '/api/keys', otherKey)
    expect(keyOver.statusCode).toBe(429)
    expect(Number(keyOver.headers['retry-after'])).toBeGreaterThanOrEqual(1)
  })

  it('holds a guessing address back on every replica, and lets the owner in elsewhere', async () => {
    const user = await r.a.accounts.createUser({ email: 'guessed@example.com' })
    await r.a.store.users.setPassword(user.id, await hashPassword('the-right-password'), nowIso())
    expect(r.b.webSessions.signInLimiter).toBeInstanceOf(SharedSignInLimiter)
    for (let i = 0; i < 4; i++) {
      const replica = i % 2 ? r.a : r.b
      await expect(
        replica.webSessions.login('guessed@example.com', 'wrong', '203.0.113.60'),
      ).rejects.toMatchObject({
        code: 'invalid_credentials',
      })
    }
    await expect(
      r.a.webSessions.login('guessed@example.com', 'the-right-password', '203.0.113.60'),
    ).rejects.toMatchObject({ status: 429, code: 'rate_limited' })
    const owner = await r.b.webSessions.login('guessed@example.com', 'the-right-password', '198.51.100.61')
    expect(owner.user.id).toBe(user.id)
  })
})

describe('the secret key', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  })
  function dir(): string {
    const d = tempDataDir('clawport-key-')
    dirs.push(d)
    return d
  }

  it('seals on one replica and opens on another when CLAWPORT_SECRET_KEY is set', () => {
    const env = { CLAWPORT_SECRET_KEY: SECRET_KEY, CLAWPORT_DATABASE_URL: 'postgres://u@127.0.0.1/db' }
    const [dirA, dirB] = [dir(), dir()]
    const a = SecretBox.forConfig(loadConfig({ ...env, CLAWPORT_DATA_DIR: dirA }))
    const b = SecretBox.forConfig(loadConfig({ ...env, CLAWPORT_DATA_DIR: dirB }))
    expect(b.open(a.seal('sk-provider-key'))).toBe('sk-provider-key')
    // No key file is written: the key lives only in the environment.
    expect(fs.readdirSync(dirA)).toEqual([])
  })

  it('refuses PostgreSQL without CLAWPORT_SECRET_KEY, saying how to make one', () => {
    const env = { CLAWPORT_DATABASE_URL: 'postgres://u@127.0.0.1/db', CLAWPORT_DATA_DIR: dir() }
    expect(() => loadConfig(env)).toThrow(ConfigError)
    expect(() => loadConfig(env)).toThrow(
      /CLAWPORT_SECRET_KEY: required with CLAWPORT_DATABASE_URL; set it to the same value on every replica .*openssl rand -base64 32/,
    )
    expect(() => SecretBox.forConfig({ store: { kind: 'postgres' }, dataDir: dir() })).toThrow(ConfigError)
    expect(() => loadConfig({ ...env, CLAWPORT_SECRET_KEY: 'c2hvcnQ=' })).toThrow(/CLAWPORT_SECRET_KEY/)
  })

  it('keeps the key file on SQLite, and refuses a key that differs from it', () => {
    const d = dir()
    const a = SecretBox.forConfig(loadConfig({ CLAWPORT_DATA_DIR: d }))
    const b = SecretBox.forConfig(loadConfig({ CLAWPORT_DATA_DIR: d }))
    expect(b.open(a.seal('token'))).toBe('token')
    expect(() =>
      SecretBox.forConfig(loadConfig({ CLAWPORT_DATA_DIR: d, CLAWPORT_SECRET_KEY: SECRET_KEY })),
    ).toThrow(/differs from .*secret\.key/)
    const same = fs.readFileSync(`${d}/secret.key`).toString('base64')
    const c = SecretBox.forConfig(loadConfig({ CLAWPORT_DATA_DIR: d, CLAWPORT_SECRET_KEY: same }))
    expect(c.open(a.seal('token'))).toBe('token')
  })
})

/** A bare app limited by @fastify/rate-limit over the store's counters, as every replica is. */
async function limitedApp(
  store: Store,
  prefix: string,
  max: number,
  timeWindow: number,
): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow,
    store: rateLimitStore(new StoreRateCounter(store), prefix),
  })
  app.get('/', async () => ({ ok: true }))
  await app.ready()
  return app
}
