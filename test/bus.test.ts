import fs from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { loadConfig } from '../src/config.js'
import { ChatEventLog } from '../src/core/chat/event-log.js'
import { ChatFollower } from '../src/core/chat/follower.js'
import type { ChatEvent } from '../src/core/chat/types.js'
import { EventService } from '../src/core/events/event-service.js'
import { EventFollower } from '../src/core/events/follower.js'
import { WebhookService } from '../src/core/events/webhooks.js'
import { SecretBox } from '../src/core/secret-box.js'
import { MemoryBus } from '../src/core/shared/bus.js'
import { PgBus } from '../src/core/shared/pg-bus.js'
import { type SleepLifecycle, SleepService } from '../src/core/sleep/sleep-service.js'
import { CLOSE_CODES, RelayRegistry } from '../src/core/socket-relay.js'
import type { InstanceRow, Store } from '../src/store/index.js'
import { openPostgresStore } from '../src/store/postgres.js'
import { openSqliteStore } from '../src/store/sqlite.js'
import { freshDatabase, havePostgres } from './helpers/postgres.js'
import { insertChatSession, insertInstanceRow, insertUserRow } from './helpers/rows.js'
import { waitFor } from './helpers/wait.js'

/**
 * The bus between replicas and what rides on it: wake-ups over LISTEN/NOTIFY (and their loss
 * when the listening connection dies), and chat and lifecycle events appended on two replicas'
 * stores, followed on a third, every cursor once, in order.
 */
const log = pino({ level: 'silent' })
const at = () => new Date().toISOString()

const until = (what: string, ok: () => boolean, timeoutMs = 10_000) =>
  waitFor(what, ok, { timeoutMs, intervalMs: 10 })

/** Follows until `n` events came (or 10 s passed: the test then shows what was missing). */
async function collect<E extends { cursor: number }>(
  f: AsyncIterable<E> & { close(): void },
  n: number,
): Promise<number[]> {
  const seen: number[] = []
  const timer = setTimeout(() => f.close(), 10_000)
  try {
    for await (const e of f) {
      seen.push(e.cursor)
      if (seen.length >= n) break
    }
  } finally {
    clearTimeout(timer)
  }
  return seen
}

const dense = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)

describe('chat events on one process (SQLite, MemoryBus): two logs on one bus', () => {
  it('a follower on one log sees the other log appends too, every cursor once, in order', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-bus-'))
    const store = await openSqliteStore(dir)
    try {
      const bus = new MemoryBus()
      const [a, b] = [new ChatEventLog(store, bus), new ChatEventLog(store, bus)]
      const instance = await insertInstanceRow(store, await insertUserRow(store))
      const s = await insertChatSession(store, instance)
      const follower = new ChatFollower(b, { instanceId: instance, after: 0 })
      const seen = collect(follower, 40)
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append(instance, s, 'delta', { i })),
      )
      expect(await seen).toEqual(dense(1, 40))
      expect(b.listenerCount(instance)).toBe(0)
    } finally {
      await store.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe.skipIf(!havePostgres())('event bus over PostgreSQL (two replicas)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let busA: PgBus
  let busB: PgBus

  beforeAll(async () => {
    db = await freshDatabase('bus')
    busA = new PgBus(db.url, log)
    busB = new PgBus(db.url, log)
    await Promise.all([busA.start(), busB.start()])
  })

  afterAll(async () => {
    await busA?.close()
    await busB?.close()
    await db?.drop()
  })

  it('a publish on one replica wakes the subscribers of both, on that channel only', async () => {
    const onA: string[] = []
    const onB: string[] = []
    const other: string[] = []
    const stops = [
      busA.subscribe('chat_event', (id) => onA.push(id)),
      busB.subscribe('chat_event', (id) => onB.push(id)),
      busB.subscribe('relay_close', (id) => other.push(id)),
    ]
    await busA.publish('chat_event', 'inst-1')
    await busB.publish('chat_event', 'inst-2')
    await until('both wake-ups on both replicas', () => onA.length === 2 && onB.length === 2)
    expect(onA).toEqual(['inst-1', 'inst-2'])
    expect(onB).toEqual(['inst-1', 'inst-2'])
    expect(other).toEqual([])
    for (const stop of stops) stop()
  })

  it('reconnects when its listening connection is killed, wakes everyone with *, and hears again', async () => {
    const heard: string[] = []
    const stop = busB.subscribe('instance_status', (id) => heard.push(id))
    const pid = busB.listenerPid()
    expect(pid).toBeTypeOf('number')
    const admin = new pg.Client({ connectionString: db.url })
    await admin.connect()
    try {
      const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid])
      expect(rows[0]?.ok).toBe(true)
    } finally {
      await admin.end()
    }
    await until('the * wake-up after the reconnect', () => heard.includes('*'))
    expect(busB.listenerPid()).not.toBe(pid)
    await busA.publish('instance_status', 'inst-3')
    await until('a wake-up through the new connection', () => heard.includes('inst-3'))
    stop()
  })

  it("an instance stopped on one replica closes the other replica's relays, with the stop's code", async () => {
    // One local WebSocket server plays the instance's socket and the public side both.
    const server = createServer()
    const wss = new WebSocketServer({ server })
    const accepted: WebSocket[] = []
    wss.on('connection', (ws) => accepted.push(ws))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
    const open = async () => {
      const ws = new WebSocket(url)
      await new Promise((r, j) => ws.once('open', r).once('error', j))
      await until('the server side', () => accepted.length > 0)
      return { ws, peer: accepted.shift() as WebSocket }
    }
    const [regA, regB] = [new RelayRegistry(60_000), new RelayRegistry(60_000)]
    regA.follow(busA, async () => 'stopping')
    regB.follow(busB, async () => 'stopping')
    try {
      const upstream = await open()
      const relay = regB.add('inst-r', { ws: upstream.ws, takeEarly: () => [] })
      const pub = await open()
      relay.attach(pub.peer)
      const closed = new Promise<[number, string]>((r) =>
        pub.ws.once('close', (c, why) => r([c, why.toString()])),
      )
      regA.stopInstance('inst-r', 'instance inst-r is shutting down')
      expect(await closed).toEqual([CLOSE_CODES.instanceStopping, 'instance inst-r is shutting down'])
      expect(regB.count('inst-r')).toBe(0)
    } finally {
      regA.closeAll(1001, 'test over')
      regB.closeAll(1001, 'test over')
      for (const ws of wss.clients) ws.terminate()
      await new Promise((r) => server.close(r))
    }
  })
})

describe.skipIf(!havePostgres())('events appended on two replicas, followed on a third (PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  const stores: Store[] = []
  const buses: PgBus[] = []
  const dirs: string[] = []

  beforeAll(async () => {
    db = await freshDatabase('bus_events')
    for (let i = 0; i < 3; i++) {
      stores.push(await openPostgresStore(db.url))
      const bus = new PgBus(db.url, log)
      await bus.start()
      buses.push(bus)
    }
  })

  afterAll(async () => {
    for (const bus of buses) await bus.close()
    for (const store of stores) await store.close()
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
    await db?.drop()
  })

  it('chat: 60 concurrent appends from two replicas reach a follower on a third once each, in order', async () => {
    const logs = stores.map((s, i) => new ChatEventLog(s, buses[i]))
    const [a, b, c] = logs as [ChatEventLog, ChatEventLog, ChatEventLog]
    const instance = await insertInstanceRow(stores[0] as Store, await insertUserRow(stores[0] as Store))
    const s = await insertChatSession(stores[0] as Store, instance)
    // Followers on every replica, the appending ones included (their own appends and the others').
    const seen = [a, b, c].map((log) =>
      collect(new ChatFollower(log, { instanceId: instance, after: 0 }), 60),
    )
    const appended: ChatEvent[] = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).append(instance, s, 'delta', { i })),
    )
    expect(appended.map((e) => e.cursor).sort((x, y) => x - y)).toEqual(dense(1, 60))
    for (const cursors of await Promise.all(seen)) expect(cursors).toEqual(dense(1, 60))
    // One that starts halfway: the backlog from its cursor, then what comes, on the third replica.
    const late = collect(new ChatFollower(c, { instanceId: instance, after: 30 }), 40)
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).append(instance, s, 'delta', { i })),
    )
    expect(await late).toEqual(dense(31, 40))
    for (const log of logs) log.close()
  })

  it('lifecycle: events recorded on two replicas reach a follower on a third once each, in order', async () => {
    const owner = await insertUserRow(stores[0] as Store)
    const instance = await insertInstanceRow(stores[0] as Store, owner)
    const services = stores.map((store, i) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-bus-'))
      dirs.push(dir)
      const webhooks = new WebhookService(store, SecretBox.open(dir), false)
      const lookup = { owned: async () => ({ id: instance }) }
      return new EventService(store, lookup, webhooks, log, buses[i])
    })
    const [a, b, c] = services as [EventService, EventService, EventService]
    const seen = collect(new EventFollower(c, instance, 0), 30)
    const recorded = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? a : b).record(instance, 'restarted', { reason: `r${i}`, userId: owner }),
      ),
    )
    const cursors = recorded.map((e) => e?.cursor ?? 0).sort((x, y) => x - y)
    expect(await seen).toEqual(cursors)
    // The last one of a deleted instance reaches the other replicas before its history goes.
    const last = new EventFollower(c, instance, cursors.at(-1) ?? 0)
    const deleted = (async () => {
      for await (const e of last) return e.type
    })()
    await a.record(instance, 'deleted', { userId: owner })
    expect(await deleted).toBe('deleted')
    expect(await c.list(instance, 0, 10)).toEqual([])
    for (const svc of services) svc.close()
  })

  it("a wake another replica runs is waited for on the bus, its outcome taken as the replica's own", async () => {
    const [storeA, storeB] = stores as [Store, Store]
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-bus-'))
    dirs.push(dir)
    const config = loadConfig({}, { dataDir: dir, gateway: { wakeWaitMs: 10_000 } })
    // Replica A's lifecycle: status writes announced on its bus, as the services wire it.
    const setStatus = async (id: string, status: string, extra: Partial<InstanceRow> = {}) => {
      const row = await storeA.instances.update(id, { ...extra, status, updated_at: at() })
      await buses[0]?.publish('instance_status', id)
      return row
    }
    // Replica B must not wake it itself: its clawlet calls fail loudly.
    let bWoke = false
    const lifecycleB: SleepLifecycle = {
      exclusive: (_id, fn) => fn(),
      setStatus: async () => {
        bWoke = true
        return undefined
      },
      clawlet: () => {
        bWoke = true
        throw new Error('replica B woke the instance itself')
      },
    }
    const lookup = {
      owned: async () => {
        throw new Error('unused')
      },
      toPublic: () => {
        throw new Error('unused')
      },
    }
    const sleepB = new SleepService(
      storeB,
      lookup,
      lifecycleB,
      undefined,
      new RelayRegistry(),
      config,
      log,
      buses[1],
    )
    const owner = await insertUserRow(storeA)
    for (const outcome of ['ready', 'failed'] as const) {
      const id = await insertInstanceRow(storeA, owner, 'waking')
      const waking = (await storeB.instances.get(id)) as InstanceRow
      const awake = sleepB.awake(waking, 'agent').then(
        (row) => row.status,
        (err: Error) => err.message,
      )
      await new Promise((r) => setTimeout(r, 300))
      if (outcome === 'ready') await setStatus(id, 'ready', { error: null })
      else await setStatus(id, 'sleeping', { error: 'it did not wake: the gateway said no' })
      const result = await awake
      if (outcome === 'ready') expect(result).toBe('ready')
      else expect(result).toMatch(/cannot be reached: it did not wake: the gateway said no$/)
    }
    expect(bWoke).toBe(false)
    sleepB.close()
  })
})
