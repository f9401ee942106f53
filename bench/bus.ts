// Live chat-event latency across replicas: an event appended on replica A, seen by a follower on
// replica B (two stores and two LISTEN/NOTIFY buses on one PostgreSQL), against a follower on A
// itself and against one process on SQLite with the in-process bus (the single-server baseline).
// Then a wake that replica A runs, awaited on replica B: ms from A's status write and
// announcement to B's answer, against the same event's follower on B above (B would otherwise
// only see it on its next look at the store, seconds later).
// Events are appended one at a time, both followers reading; each sample is append start to a
// follower's yield, and the added latency is, per event, B's sample minus A's.
// Build first (npx tsc -p tsconfig.build.json), then:
//   CLAWPORT_TEST_DATABASE_URL=postgres://... node bench/bus.ts [events]   (a fresh database)
//   CLAWPORT_BENCH_DATABASE_URL=postgres://... node bench/bus.ts [events]  (that database, as is)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Store } from '../src/store/index.ts'
import { freshDatabase } from '../test/helpers/postgres.ts'
import { insertInstanceRow } from '../test/helpers/rows.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 500)
const WARMUP = 20
/** The target: what the bus may add to the p99 of a follower on another replica. */
const ADDED_P99_TARGET_MS = 20

const benchUrl = process.env.CLAWPORT_BENCH_DATABASE_URL
if (!benchUrl && !process.env.CLAWPORT_TEST_DATABASE_URL) {
  console.log(
    'bench/bus: set CLAWPORT_TEST_DATABASE_URL (a role that may create databases) or CLAWPORT_BENCH_DATABASE_URL; skipped',
  )
  process.exit(0)
}

// The built modules (their own imports resolve only once compiled), typed from their sources.
const dist = (m: string) => `../dist/${m}.js`
const { ChatEventLog } = (await import(
  dist('core/chat/event-log')
)) as typeof import('../src/core/chat/event-log.ts')
const { ChatFollower } = (await import(
  dist('core/chat/follower')
)) as typeof import('../src/core/chat/follower.ts')
const { MemoryBus } = (await import(dist('core/shared/bus'))) as typeof import('../src/core/shared/bus.ts')
const { PgBus } = (await import(dist('core/shared/pg-bus'))) as typeof import('../src/core/shared/pg-bus.ts')
const { openPostgresStore } = (await import(
  dist('store/postgres')
)) as typeof import('../src/store/postgres.ts')
const { openSqliteStore } = (await import(dist('store/sqlite'))) as typeof import('../src/store/sqlite.ts')
const { createLogger } = (await import(dist('log'))) as typeof import('../src/log.ts')
const { loadConfig } = (await import(dist('config'))) as typeof import('../src/config.ts')
const { SleepService } = (await import(
  dist('core/sleep/sleep-service')
)) as typeof import('../src/core/sleep/sleep-service.ts')
const { RelayRegistry } = (await import(
  dist('core/socket-relay')
)) as typeof import('../src/core/socket-relay.ts')
type Log = InstanceType<typeof ChatEventLog>

const log = createLogger('silent')
const at = () => new Date().toISOString()

/** An instance with one chat session on the store: what chat events hang off. */
async function instanceWithSession(store: Store): Promise<{ instance: string; session: string }> {
  const userId = crypto.randomUUID()
  await store.users.create({
    id: userId,
    email: `${userId}@example.com`,
    password_hash: null,
    is_admin: false,
    created_at: at(),
    updated_at: at(),
  })
  const instance = await insertInstanceRow(store, userId)
  const session = crypto.randomUUID()
  await store.chat.createSession({
    id: session,
    instance_id: instance,
    title: null,
    session_key: `bench-${session}`,
    created_at: at(),
    updated_at: at(),
    last_activity: at(),
  })
  return { instance, session }
}

/**
 * Appends on `writer` one at a time; for each reader, each sample ends when its follower yields
 * the event, and the next append waits for every follower.
 */
async function measure(writer: Log, readers: Log[], instance: string, session: string): Promise<number[][]> {
  const after = await lastOf(writer, instance)
  const samples = readers.map(() => [] as number[])
  const seenAt = readers.map(() => new Map<number, number>())
  let waiting: { cursor: number; resolve: () => void } | undefined
  const allSeen = (cursor: number) => seenAt.every((m) => m.has(cursor))
  const followers = readers.map((r) => new ChatFollower(r, { instanceId: instance, after }))
  const loops = followers.map(async (f, i) => {
    for await (const e of f) {
      seenAt[i]?.set(e.cursor, performance.now())
      if (waiting && allSeen(waiting.cursor)) waiting.resolve()
    }
  })
  for (let n = 0; n < WARMUP + N; n++) {
    const t0 = performance.now()
    const e = await writer.append(instance, session, 'delta', { text: `d${n}` })
    if (!allSeen(e.cursor)) await new Promise<void>((resolve) => (waiting = { cursor: e.cursor, resolve }))
    waiting = undefined
    if (n < WARMUP) continue
    for (const [i, m] of seenAt.entries()) samples[i]?.push((m.get(e.cursor) as number) - t0)
  }
  for (const f of followers) f.close()
  await Promise.all(loops)
  return samples
}

async function lastOf(l: Log, instance: string): Promise<number> {
  let after = 0
  for (;;) {
    const page = await l.list(instance, after, undefined, 1000)
    if (page.length === 0) return after
    after = page.at(-1)?.cursor ?? after
  }
}

// The baseline: one process, SQLite, the in-process bus.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-bench-bus-'))
const sqlite = await openSqliteStore(dir)
const local = new ChatEventLog(sqlite, new MemoryBus())
const one = await instanceWithSession(sqlite)
const base = summarize((await measure(local, [local], one.instance, one.session))[0] ?? [])
await sqlite.close()
fs.rmSync(dir, { recursive: true, force: true })

// Two replicas on PostgreSQL.
const db = benchUrl ? { url: benchUrl, drop: async () => {} } : await freshDatabase('bench_bus')
const [storeA, storeB] = [await openPostgresStore(db.url), await openPostgresStore(db.url)]
const [busA, busB] = [new PgBus(db.url, log), new PgBus(db.url, log)]
await Promise.all([busA.start(), busB.start()])
const [a, b] = [new ChatEventLog(storeA, busA), new ChatEventLog(storeB, busB)]
const two = await instanceWithSession(storeA)
const [onA, onB] = (await measure(a, [a, b], two.instance, two.session)) as [number[], number[]]
const [sameReplica, otherReplica] = [summarize(onA), summarize(onB)]
// Per event: how much later the follower on B had it than the one on A.
const added = summarize(onB.map((ms, i) => ms - (onA[i] as number)))

// A wake run on A, awaited on B; B must never wake it itself.
const wakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawport-bench-wake-'))
const refuse = () => {
  throw new Error('replica B woke the instance itself')
}
const sleepB = new SleepService(
  storeB,
  { owned: refuse, toPublic: refuse },
  { exclusive: (_id, fn) => fn(), setStatus: refuse, clawlet: refuse },
  undefined,
  new RelayRegistry(),
  loadConfig({}, { dataDir: wakeDir, gateway: { wakeWaitMs: 10_000 } }),
  log,
  busB,
)
const wakes: number[] = []
const waking = two.instance
for (let n = 0; n < Math.min(N, 50); n++) {
  await storeA.instances.update(waking, { status: 'waking', error: null, updated_at: at() })
  const row = (await storeB.instances.get(waking)) as NonNullable<
    Awaited<ReturnType<Store['instances']['get']>>
  >
  const awake = sleepB.awake(row, 'agent')
  await new Promise((r) => setTimeout(r, 50))
  const t0 = performance.now()
  await storeA.instances.update(waking, { status: 'ready', error: null, updated_at: at() })
  await busA.publish('instance_status', waking)
  const woke = await awake
  if (woke.status !== 'ready') throw new Error(`woke as ${woke.status}`)
  wakes.push(performance.now() - t0)
}
sleepB.close()
fs.rmSync(wakeDir, { recursive: true, force: true })
const wake = summarize(wakes)

for (const l of [a, b]) l.close()
await Promise.all([busA.close(), busB.close()])
await Promise.all([storeA.close(), storeB.close()])
await db.drop()

console.log(`chat event, append to follower (${N} events one at a time, after ${WARMUP} warm-up)`)
console.log(line('sqlite, one process (baseline)', base))
console.log(line('postgres, follower on replica A', sameReplica))
console.log(line('postgres, follower on replica B', otherReplica))
const ratio = (x: number, y: number) => (y > 0 ? (x / y).toFixed(1) : 'n/a')
console.log(
  `B vs baseline: p50 x${ratio(otherReplica.p50, base.p50)}, p99 x${ratio(otherReplica.p99, base.p99)}`,
)
console.log(line('bus adds (B - A, per event)', added))
console.log(
  `added p99 ${added.p99.toFixed(2)} ms: target <= ${ADDED_P99_TARGET_MS} ms ${added.p99 <= ADDED_P99_TARGET_MS ? 'met' : 'missed'}`,
)
console.log(line('wake run on A, heard on B', wake))
console.log(
  `wake heard on B vs event follower on B: p50 x${ratio(wake.p50, otherReplica.p50)}, p99 x${ratio(wake.p99, otherReplica.p99)}`,
)
