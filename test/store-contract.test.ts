import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isUnstorableText } from '../src/store/errors.js'
import type { Store } from '../src/store/index.js'
import { openPostgresStore } from '../src/store/postgres.js'
import { openSqliteStore } from '../src/store/sqlite.js'
import { inProcess } from './helpers/app.js'
import { TEST_ENV } from './helpers/plans.js'
import { freshDatabase, havePostgres } from './helpers/postgres.js'
import { insertChatSession, insertInstanceRow, insertUserRow } from './helpers/rows.js'
import { TEST_SECRET_KEY } from './helpers/server.js'

/**
 * One contract, two databases: every store call core relies on, and the races that SQLite's
 * single writer hides but PostgreSQL's concurrent transactions expose (numbering appends,
 * check-then-write under `store.lock`). The PostgreSQL half opens two stores on one database,
 * as two replicas do.
 */
interface Backend {
  name: string
  open(): Promise<{ a: Store; b: Store; close(): Promise<void> }>
  skip?: boolean
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-store-'))
      const a = await openSqliteStore(dir)
      return {
        a,
        // One server per SQLite file: both names are the same store.
        b: a,
        async close() {
          await a.close()
          fs.rmSync(dir, { recursive: true, force: true })
        },
      }
    },
  },
  {
    name: 'postgres',
    skip: !havePostgres(),
    async open() {
      const db = await freshDatabase('store')
      // Two replicas migrating at once: the migrator's lock lets one do it.
      const [a, b] = await Promise.all([openPostgresStore(db.url), openPostgresStore(db.url)])
      return {
        a,
        b,
        async close() {
          await a.close()
          await b.close()
          await db.drop()
        },
      }
    },
  },
]

const at = () => new Date().toISOString()

for (const backend of backends) {
  describe.skipIf(backend.skip)(`store contract: ${backend.name}`, () => {
    let a: Store
    let b: Store
    let close: () => Promise<void>

    beforeAll(async () => {
      ;({ a, b, close } = await backend.open())
      await a.plans.sync([
        {
          name: 'starter',
          instance_limit: 2,
          memory_mb: 512,
          cpus: 1,
          pids_max: 256,
          disk_mb: 256,
          network: 'off',
          allowed_hosts: ['example.com'],
        },
      ])
    })
    afterAll(async () => close?.())

    it('reports its dialect', () => {
      expect(a.dialect).toBe(backend.name)
    })

    it('keeps users and counts, and hands flags back as booleans', async () => {
      const before = await a.users.count()
      const id = await insertUserRow(a, `Case.${randomUUID()}@Example.com`)
      expect(await b.users.count()).toBe(before + 1)
      await a.users.setAdmin(id, true, at())
      const row = await b.users.byId(id)
      expect(row?.is_admin).toBe(true)
      expect(typeof (await a.users.count())).toBe('number')
      expect(await a.users.byEmail(row?.email as string)).toMatchObject({ id })
    })

    it('upserts plans and reads them back', async () => {
      const plan = await b.plans.get('starter')
      expect(plan).toMatchObject({ instance_limit: 2, network: 'off', allowed_hosts: ['example.com'] })
      await a.plans.sync([{ ...(await planSpec(a)), instance_limit: 3 }])
      expect((await b.plans.get('starter'))?.instance_limit).toBe(3)
    })

    it('redeems an invite exactly as many times as it allows, under concurrency', async () => {
      const code = `inv-${randomUUID()}`
      await a.invites.create({
        code,
        plan: 'starter',
        max_uses: 3,
        used_count: 0,
        expires_at: null,
        created_at: at(),
      })
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).invites.redeem(code, at())),
      )
      expect(results.filter(Boolean)).toHaveLength(3)
      expect((await a.invites.get(code))?.used_count).toBe(3)
    })

    it('stores instances, their host uids and counts', async () => {
      const owner = await insertUserRow(a)
      const id = await insertInstanceRow(a, owner)
      expect(await b.instances.countByUser(owner)).toBe(1)
      const uids = await b.instances.usedHostUids()
      expect(uids).toContain((await a.instances.get(id))?.host_uid)
      const updated = await b.instances.update(id, { status: 'stopped', updated_at: at() })
      expect(updated?.status).toBe('stopped')
      expect(await a.instances.update(randomUUID(), { status: 'stopped' })).toBeUndefined()
      await a.instances.remove(id)
      expect(await b.instances.get(id)).toBeUndefined()
    })

    it('numbers 40 concurrent chat events from two writers densely, in commit order', async () => {
      const owner = await insertUserRow(a)
      const instance = await insertInstanceRow(a, owner)
      const s = await insertChatSession(a, instance)
      const rows = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? a : b).chat.appendEvent({
            instance_id: instance,
            session_id: s,
            type: 'delta',
            data: { i },
            created_at: at(),
          }),
        ),
      )
      const cursors = rows.map((r) => r.cursor).sort((x, y) => x - y)
      expect(cursors).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect(await b.chat.lastCursor(instance)).toBe(40)
      const listed = await a.chat.listEvents(instance, { after: 10, limit: 5 })
      expect(listed.map((e) => e.cursor)).toEqual([11, 12, 13, 14, 15])
    })

    it('numbers concurrent messages of a session densely', async () => {
      const owner = await insertUserRow(a)
      const instance = await insertInstanceRow(a, owner)
      const s = await insertChatSession(a, instance)
      const rows = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b).chat.appendMessage({
            id: randomUUID(),
            session_id: s,
            instance_id: instance,
            role: 'user',
            content: `m${i}`,
            tool: null,
            status: 'complete',
            created_at: at(),
            updated_at: at(),
          }),
        ),
      )
      expect(rows.map((r) => r.seq).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      )
      const tail = await b.chat.listMessages(s, { limit: 3, tail: true })
      expect(tail.map((m) => m.seq)).toEqual([18, 19, 20])
    })

    it('finds unfinished turns', async () => {
      const owner = await insertUserRow(a)
      const instance = await insertInstanceRow(a, owner)
      const open = await insertChatSession(a, instance)
      const done = await insertChatSession(a, instance)
      const ev = (s: string, type: string) =>
        a.chat.appendEvent({ instance_id: instance, session_id: s, type, data: {}, created_at: at() })
      await ev(done, 'session')
      await ev(done, 'done')
      const started = await ev(open, 'session')
      await ev(open, 'delta')
      const unfinished = (await b.chat.unfinishedTurns()).filter((t) => t.instance_id === instance)
      expect(unfinished).toEqual([{ instance_id: instance, session_id: open, cursor: started.cursor }])
    })

    it('sums token usage as numbers', async () => {
      const owner = await insertUserRow(a)
      const instance = randomUUID()
      for (const n of [3, 4]) {
        await a.usage.record({
          instance_id: instance,
          user_id: owner,
          model: 'm',
          prompt_tokens: n,
          completion_tokens: n * 10,
          status: 'ok',
          duration_ms: 5,
          created_at: at(),
        })
      }
      expect(await b.usage.totals({ instanceId: instance })).toEqual({
        calls: 2,
        prompt_tokens: 7,
        completion_tokens: 70,
      })
      expect(await b.usage.totals({ userId: randomUUID() })).toEqual({
        calls: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
      })
    })

    it('keeps a bounded, ordered lifecycle log per instance under concurrent writers', async () => {
      const owner = await insertUserRow(a)
      const instance = randomUUID()
      const rows = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? a : b).events.append(
            {
              instance_id: instance,
              user_id: owner,
              type: 'started',
              reason: `r${i}`,
              data: {},
              created_at: at(),
            },
            8,
          ),
        ),
      )
      const listed = await b.events.list(instance, 0, 100)
      expect(listed).toHaveLength(8)
      const cursors = listed.map((e) => e.cursor)
      expect([...cursors].sort((x, y) => x - y)).toEqual(cursors)
      expect(cursors.at(-1)).toBe(Math.max(...rows.map((r) => r.cursor)))
    })

    it('rolls a failed transaction back whole', async () => {
      const owner = await insertUserRow(a)
      const id = randomUUID()
      await expect(
        a.transaction(async (tx) => {
          await insertInstanceRowWithId(tx, owner, id)
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      expect(await b.instances.get(id)).toBeUndefined()
    })

    it('serialises check-then-write under store.lock: concurrent creates keep the limit', async () => {
      const owner = await insertUserRow(a)
      const limit = 2
      const attempts = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? a : b).transaction(async (tx) => {
            await tx.lock('instances:admission')
            if ((await tx.instances.countByUser(owner)) >= limit) throw new Error('limit')
            const used = new Set(await tx.instances.usedHostUids())
            let uid = 900_000
            while (used.has(uid)) uid++
            await insertInstanceRowWithId(tx, owner, randomUUID(), uid)
          }),
        ),
      )
      expect(attempts.filter((r) => r.status === 'fulfilled')).toHaveLength(limit)
      for (const r of attempts) if (r.status === 'rejected') expect(String(r.reason)).toContain('limit')
      const mine = await a.instances.listByUser(owner)
      expect(new Set(mine.map((m) => m.host_uid)).size).toBe(limit)
    })

    it('prunes expired web sessions', async () => {
      const owner = await insertUserRow(a)
      const base = { user_id: owner, csrf_hash: 'c', created_at: at(), last_seen_at: at() }
      await a.webSessions.create({
        ...base,
        id: 'old',
        token_hash: `t-${randomUUID()}`,
        expires_at: '2000-01-01T00:00:00.000Z',
      })
      await a.webSessions.create({
        ...base,
        id: 'new',
        token_hash: `t-${randomUUID()}`,
        expires_at: '2999-01-01T00:00:00.000Z',
      })
      await b.webSessions.prune(at())
      expect(await a.webSessions.byId('old')).toBeUndefined()
      expect(await a.webSessions.byId('new')).toMatchObject({
        id: 'new',
        expires_at: '2999-01-01T00:00:00.000Z',
      })
    })

    it('finds nothing for a value with a NUL, or refuses it as text it cannot store', async () => {
      const found = await a.instances.get('hostile\u0000id').then(
        (row) => ({ row }),
        (err: unknown) => ({ err }),
      )
      if (backend.name === 'sqlite') expect(found).toEqual({ row: undefined })
      // PostgreSQL's text has no NUL: the error says so, and the API answers it as invalid input.
      else expect(isUnstorableText((found as { err: unknown }).err)).toBe(true)
    })

    it('keeps inbox idempotency keys unique across writers', async () => {
      const owner = await insertUserRow(a)
      const target = await insertInstanceRow(a, owner)
      const row = (key: string) => ({
        id: randomUUID(),
        user_id: owner,
        target_id: target,
        from_instance: null,
        sender: 'user',
        reply_to: null,
        in_reply_to: null,
        correlation_id: null,
        idempotency_key: key,
        message: 'hello',
        status: 'pending',
        attempts: 0,
        next_attempt_at: at(),
        session_id: null,
        reply: null,
        error: null,
        created_at: at(),
        updated_at: at(),
        delivered_at: null,
        replied_at: null,
      })
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).automation.inbox.insert(row('same'))),
      )
      expect(results.filter((r) => r.created)).toHaveLength(1)
      expect(new Set(results.map((r) => r.row.id)).size).toBe(1)
    })
  })
}

describe.skipIf(!havePostgres())('the API on PostgreSQL, under hostile text', () => {
  it('answers a NUL in an id or a body as invalid input, never as a server error', async () => {
    const db = await freshDatabase('nul')
    const t = await inProcess({
      ...TEST_ENV,
      CLAWPORT_DATABASE_URL: db.url,
      CLAWPORT_SECRET_KEY: TEST_SECRET_KEY,
    })
    try {
      const key = await t.user('nul@example.com', 'pro')
      for (const [method, url] of [
        ['GET', '/api/instances/%E2%80%AE%00/chat/cursor'],
        ['DELETE', '/api/keys/%00'],
        ['GET', '/api/instances/%00/files'],
      ] as const) {
        const res = await t.inject(method, url, key)
        expect(res.status, `${method} ${url}`).toBeGreaterThanOrEqual(400)
        expect(res.status, `${method} ${url}`).toBeLessThan(500)
        expect(res.body).toMatchObject({ code: expect.any(String), status: res.status })
      }
      const named = await t.inject('POST', '/api/keys', key, { name: 'nul \u0000 inside' })
      expect(named.status).toBe(422)
      expect(named.body.message).toMatch(/NUL character/)
    } finally {
      await t.close()
      await db.drop()
    }
  })
})

async function planSpec(store: Store) {
  const p = await store.plans.get('starter')
  if (!p) throw new Error('no starter plan')
  return {
    name: p.name,
    instance_limit: p.instance_limit,
    memory_mb: p.memory_mb,
    cpus: p.cpus,
    pids_max: p.pids_max,
    disk_mb: p.disk_mb,
    network: p.network,
    allowed_hosts: p.allowed_hosts,
  }
}

async function insertInstanceRowWithId(
  store: Store,
  owner: string,
  id: string,
  uid = 800_000,
): Promise<void> {
  await store.instances.insert({
    id,
    user_id: owner,
    name: null,
    status: 'stopped',
    desired_state: 'stopped',
    host_uid: uid,
    resources: { memory_mb: 256, cpus: 1, pids_max: 128, disk_mb: 64 },
    error: null,
    created_at: at(),
    updated_at: at(),
    started_at: null,
  })
}
