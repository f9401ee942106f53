import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bootstrapAdmin } from '../src/cli/bootstrap.js'
import { loadConfig } from '../src/config.js'
import { AccountService } from '../src/core/accounts.js'
import { InstanceAdmission } from '../src/core/instances/admission.js'
import { InstanceLifecycle } from '../src/core/instances/lifecycle.js'
import { InviteService } from '../src/core/invites.js'
import { type Leadership, MemoryLocks, PgLocks } from '../src/core/shared/locks.js'
import { POOL_USER_ID, WarmPool } from '../src/core/warm-pool.js'
import { createDriver } from '../src/drivers/index.js'
import type { InstanceRow, Store } from '../src/store/index.js'
import { openPostgresStore } from '../src/store/postgres.js'
import { TEST_ENV } from './helpers/plans.js'
import { freshDatabase, havePostgres } from './helpers/postgres.js'
import { insertInstanceRow } from './helpers/rows.js'
import { waitFor } from './helpers/wait.js'

/**
 * Work that must happen once across replicas: leaderships over PostgreSQL session locks (handed
 * on when the leader's connection dies), run-once work, and the claims replicas race for (inbox
 * deliveries, warm pooled instances, instance admission), each from two stores at once.
 */
const log = pino({ level: 'silent' })
const RETRY_MS = 100

const until = (what: string, ok: () => boolean, timeoutMs = 10_000) =>
  waitFor(what, ok, { timeoutMs, intervalMs: 10 })

async function user(store: Store, id: string = randomUUID()): Promise<string> {
  const at = new Date().toISOString()
  await store.users.create({
    id,
    email: `${id}@example.com`,
    password_hash: null,
    is_admin: false,
    created_at: at,
    updated_at: at,
  })
  return id
}

/** Counts the terms of a leadership: how often its work started and stopped. */
function terms(l: Leadership): { started: number; stopped: number } {
  const n = { started: 0, stopped: 0 }
  l.onLead(() => {
    n.started++
    return () => {
      n.stopped++
    }
  })
  return n
}

describe('in-process locks (one server)', () => {
  it('leads at once, runs once at a time, and hands a released leadership on', async () => {
    const locks = new MemoryLocks()
    const a = await locks.leader('x')
    const b = await locks.leader('x')
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false])
    const ta = terms(a)
    const tb = terms(b)
    expect(ta).toEqual({ started: 1, stopped: 0 })
    expect(await locks.tryRun('x', async () => {})).toBe(false)
    await a.release()
    expect([a.isLeader(), b.isLeader()]).toEqual([false, true])
    expect([ta, tb]).toEqual([
      { started: 1, stopped: 1 },
      { started: 1, stopped: 0 },
    ])
    let inner: boolean | undefined
    const outer = await locks.tryRun('job', async () => {
      inner = await locks.tryRun('job', async () => {})
    })
    expect([outer, inner]).toEqual([true, false])
    expect(await locks.tryRun('job', async () => {})).toBe(true)
  })
})

describe.skipIf(!havePostgres())('PostgreSQL session locks (two replicas)', () => {
  let url: string
  let drop: () => Promise<void>
  const open: PgLocks[] = []
  const locksOf = (replica: string) => {
    const l = new PgLocks(pg, url, replica, log, RETRY_MS, `clawport-locks-test ${replica}`)
    open.push(l)
    return l
  }
  /** Ends a replica's lock connection from the server side, as a kill -9 of it would. */
  const kill = async (replica: string) => {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      const r = await c.query(
        'select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1',
        [`clawport-locks-test ${replica}`],
      )
      expect(r.rows.length).toBe(1)
    } finally {
      await c.end()
    }
  }

  beforeAll(async () => {
    ;({ url, drop } = await freshDatabase('locks'))
  })
  afterAll(async () => {
    for (const l of open) await l.close()
    await drop?.()
  })

  it('elects one leader; killing its connection hands leadership to the other', async () => {
    const a = locksOf('a')
    const b = locksOf('b')
    const la = await a.leader('host:test')
    const lb = await b.leader('host:test')
    expect([la.isLeader(), lb.isLeader()]).toEqual([true, false])
    const ta = terms(la)
    const tb = terms(lb)
    // Retries of the one not leading never take it while the leader lives.
    await new Promise((r) => setTimeout(r, RETRY_MS * 4))
    expect([la.isLeader(), lb.isLeader()]).toEqual([true, false])

    await kill('a')
    await until('b to lead', () => lb.isLeader())
    await until('a to know it lost', () => !la.isLeader())
    expect(ta).toEqual({ started: 1, stopped: 1 })
    expect(tb).toEqual({ started: 1, stopped: 0 })
    // a reconnects and keeps trying, but b holds it.
    await new Promise((r) => setTimeout(r, RETRY_MS * 4))
    expect([la.isLeader(), lb.isLeader()]).toEqual([false, true])

    // A release (a stop) hands it back without waiting for a connection to die.
    await lb.release()
    await until('a to lead again', () => la.isLeader())
    expect(ta).toEqual({ started: 2, stopped: 1 })
    expect(tb).toEqual({ started: 1, stopped: 1 })
    await la.release()
  })

  it('runs tryRun work only where nobody holds the name, in this process or another', async () => {
    const a = locksOf('c')
    const b = locksOf('d')
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    let ran = 0
    const first = a.tryRun('audit:retention', async () => {
      ran++
      await held
    })
    await until('the first run to start', () => ran === 1)
    expect(await b.tryRun('audit:retention', async () => void ran++)).toBe(false)
    // Session locks are reentrant: the same replica must still be refused.
    expect(await a.tryRun('audit:retention', async () => void ran++)).toBe(false)
    release()
    expect(await first).toBe(true)
    expect(await b.tryRun('audit:retention', async () => void ran++)).toBe(true)
    expect(ran).toBe(2)
    // A leadership's name is held too.
    const lead = await a.leader('events:webhooks')
    expect(lead.isLeader()).toBe(true)
    expect(await a.tryRun('events:webhooks', async () => {})).toBe(false)
    expect(await b.tryRun('events:webhooks', async () => {})).toBe(false)
    await lead.release()
  })
})

describe.skipIf(!havePostgres())('claims replicas race for (two stores on one PostgreSQL)', () => {
  let url: string
  let drop: () => Promise<void>
  let one: Store
  let two: Store
  let dataDir: string

  beforeAll(async () => {
    ;({ url, drop } = await freshDatabase('claims'))
    one = await openPostgresStore(url)
    two = await openPostgresStore(url)
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-locks-'))
  })
  afterAll(async () => {
    await one?.close()
    await two?.close()
    await drop?.()
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it('delivers each inbox message once when two replicas claim at the same time', async () => {
    const owner = await user(one)
    const targets = [await insertInstanceRow(one, owner), await insertInstanceRow(one, owner)]
    const at = new Date(Date.now() - 1000).toISOString()
    const ids: string[] = []
    for (let i = 0; i < 40; i++) {
      const id = randomUUID()
      ids.push(id)
      await one.automation.inbox.insert({
        id,
        user_id: owner,
        target_id: targets[i % 2] as string,
        from_instance: null,
        sender: 'user',
        reply_to: null,
        in_reply_to: null,
        correlation_id: null,
        idempotency_key: null,
        message: `message ${i}`,
        status: 'pending',
        attempts: 0,
        next_attempt_at: at,
        created_at: at,
        updated_at: at,
      })
    }
    const claimed = new Map<string, string[]>()
    const replica = async (store: Store, name: string) => {
      for (let round = 0; round < 3; round++) {
        const now = new Date().toISOString()
        const until = new Date(Date.now() + 30_000).toISOString()
        for (const row of await store.automation.inbox.due(now, 100)) {
          const got = await store.automation.inbox.claim(row.id, name, now, until)
          if (got) claimed.set(got.id, [...(claimed.get(got.id) ?? []), name])
        }
      }
    }
    await Promise.all([replica(one, 'r1'), replica(two, 'r2'), replica(one, 'r3'), replica(two, 'r4')])
    expect([...claimed.keys()].sort()).toEqual([...ids].sort())
    for (const by of claimed.values()) expect(by).toHaveLength(1)
    // Both replicas delivered some: the claims really raced.
    const owners = new Set([...claimed.values()].flat())
    expect(owners.size).toBeGreaterThan(1)
    // Held, nothing is due; a released lease makes it due again, to one claimer.
    expect(await one.automation.inbox.due(new Date().toISOString(), 100)).toEqual([])
    const first = ids[0] as string
    await one.automation.inbox.release(first, (claimed.get(first) as string[])[0] as string)
    const now = new Date().toISOString()
    const until = new Date(Date.now() + 30_000).toISOString()
    const again = await Promise.all([
      one.automation.inbox.claim(first, 'r1', now, until),
      two.automation.inbox.claim(first, 'r2', now, until),
    ])
    expect(again.filter(Boolean)).toHaveLength(1)
  })

  it('leases a pipeline run to one replica; another resumes it only once the lease expired', async () => {
    const owner = await user(one)
    const at = new Date().toISOString()
    const pipelineId = randomUUID()
    await one.automation.pipelines.insert({
      id: pipelineId,
      user_id: owner,
      name: 'leased',
      spec: { steps: [] },
      schedule: null,
      next_run_at: null,
      webhook_hash: null,
      created_at: at,
      updated_at: at,
    })
    const runId = randomUUID()
    await one.automation.pipelines.insertRun({
      id: runId,
      pipeline_id: pipelineId,
      user_id: owner,
      trigger: 'manual',
      status: 'running',
      input: {},
      steps: [],
      error: null,
      created_at: at,
      updated_at: at,
      started_at: at,
      finished_at: null,
      scope_instance_id: null,
      lease_owner: 'r1',
      lease_expires_at: new Date(Date.now() + 30_000).toISOString(),
    })
    const soon = new Date(Date.now() + 30_000).toISOString()
    const runs = one.automation.pipelines
    // Held and alive: nobody else takes it; its owner renews it.
    expect(await two.automation.pipelines.claimRun(runId, 'r2', new Date().toISOString(), soon)).toBe(false)
    expect(await runs.renewRuns('r1', [runId], soon)).toEqual([runId])
    expect(await two.automation.pipelines.renewRuns('r2', [runId], soon)).toEqual([])
    // Its owner died: once the lease has expired, one of the racing replicas takes it over.
    const later = new Date(Date.now() + 60_000).toISOString()
    const until = new Date(Date.now() + 90_000).toISOString()
    const takeovers = await Promise.all([
      runs.claimRun(runId, 'r2', later, until),
      two.automation.pipelines.claimRun(runId, 'r3', later, until),
    ])
    expect(takeovers.filter(Boolean)).toHaveLength(1)
    const holder = (await runs.getRun(runId))?.lease_owner
    expect(['r2', 'r3']).toContain(holder)
    // The old owner's heartbeat no longer renews it: it stops executing it.
    expect(await runs.renewRuns('r1', [runId], until)).toEqual([])
    // A stop frees the lease at once.
    await runs.releaseRuns(holder as string)
    expect(await two.automation.pipelines.claimRun(runId, 'r4', new Date().toISOString(), soon)).toBe(true)
    // Canceled through another replica: the store ends it, and its executor's next write fails.
    expect(await one.automation.pipelines.updateRun(runId, { updated_at: at }, 'r4')).toBe(true)
    expect(await one.automation.pipelines.cancelRun(runId, { status: 'canceled', finished_at: at })).toBe(
      true,
    )
    expect(await two.automation.pipelines.updateRun(runId, { status: 'running' }, 'r4')).toBe(false)
    expect(await two.automation.pipelines.cancelRun(runId, { status: 'canceled' })).toBe(false)
    expect((await one.automation.pipelines.getRun(runId))?.status).toBe('canceled')
  })

  it('never hands one warm pooled instance to two creates (SKIP LOCKED)', async () => {
    await user(one, POOL_USER_ID)
    const resources = { memory_mb: 256, cpus: 1, pids_max: 128, disk_mb: 64 }
    const warm = new Set<string>()
    for (let i = 0; i < 5; i++) {
      const id = await insertInstanceRow(one, POOL_USER_ID)
      await one.instances.update(id, { plan: 'pro', network: 'off', warm_at: new Date().toISOString() })
      warm.add(id)
    }
    // One that is not warm yet (still warming up) is never claimed.
    const warming = await insertInstanceRow(one, POOL_USER_ID)
    await one.instances.update(warming, { plan: 'pro', network: 'off' })
    const match = { plan: 'pro', network: 'off' as const, resources }
    const claims = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? one : two).transaction(async (tx) => {
          const row = await tx.instances.claimWarm(POOL_USER_ID, match, { user_id: POOL_USER_ID })
          // Held a moment, as a create does before its commit.
          await new Promise((r) => setTimeout(r, 20))
          return row
        }),
      ),
    )
    const got = claims.filter((r): r is InstanceRow => r !== undefined).map((r) => r.id)
    expect(new Set(got).size).toBe(got.length)
    expect(new Set(got)).toEqual(warm)
    expect((await one.instances.get(warming))?.warm_at).toBeNull()
    // A claim rolled back with its create leaves the instance warm.
    const back = [...warm][0] as string
    await one.instances.update(back, { warm_at: new Date().toISOString() })
    await one
      .transaction(async (tx) => {
        expect((await tx.instances.claimWarm(POOL_USER_ID, { id: back }, {}))?.id).toBe(back)
        throw new Error('the create failed')
      })
      .catch(() => {})
    expect((await two.instances.get(back))?.warm_at).not.toBeNull()
  })

  it('creates one administrator when two replicas start together on an empty database', async () => {
    const empty = await freshDatabase('bootstrap')
    const stores = [await openPostgresStore(empty.url), await openPostgresStore(empty.url)]
    try {
      const config = loadConfig({ ...TEST_ENV, CLAWPORT_DATA_DIR: dataDir, CLAWPORT_LOG_LEVEL: 'silent' })
      for (const store of stores) await store.plans.sync(config.plans)
      const firsts = await Promise.all(
        [0, 1, 0, 1].map((i) => bootstrapAdmin({ store: stores[i] as Store, config })),
      )
      expect(firsts.filter(Boolean)).toHaveLength(1)
      expect(await (stores[0] as Store).users.count()).toBe(1)
    } finally {
      for (const store of stores) await store.close()
      await empty.drop()
    }
  })

  it('admits concurrent creates on two replicas one at a time: distinct host uids, capacity kept', async () => {
    const config = loadConfig({
      ...TEST_ENV,
      CLAWPORT_DATA_DIR: dataDir,
      CLAWPORT_LOG_LEVEL: 'silent',
      CLAWPORT_DATABASE_URL: url,
      CLAWPORT_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
    })
    await one.plans.sync(config.plans)
    for (const row of await one.instances.listAll()) await one.instances.remove(row.id)
    config.fleet.maxInstances = 3
    const driver = await createDriver(config, log)
    const launched: InstanceRow[] = []
    /** The lifecycle without its sandboxes: launching is not what is under test. */
    class Unlaunched extends InstanceLifecycle {
      override launch(row: InstanceRow): void {
        launched.push(row)
      }
    }
    const admissions = [one, two].map((store) => {
      const lifecycle = new Unlaunched(store, driver, config, log)
      const pool = new WarmPool(store, lifecycle, undefined, config, log)
      return new InstanceAdmission(store, new InviteService(store), lifecycle, pool, config.fleet, log)
    })
    const accounts = new AccountService(one, config)
    const users = await Promise.all(
      [1, 2, 3, 4].map((i) => accounts.createUser({ email: `create${i}@example.com`, plan: 'team' })),
    )
    const outcomes = await Promise.allSettled(
      users.map((u, i) => (admissions[i % 2] as InstanceAdmission).create(u, { name: `c${i}` })),
    )
    const made = outcomes.filter((o) => o.status === 'fulfilled')
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')
    expect(made).toHaveLength(3)
    expect(refused.map((o) => (o.reason as { code?: string }).code)).toEqual(['no_capacity'])
    const rows = await one.instances.listAll()
    expect(rows).toHaveLength(3)
    expect(new Set(rows.map((r) => r.host_uid)).size).toBe(3)
    expect(launched).toHaveLength(3)
  })
})
