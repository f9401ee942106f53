// Replicas: the same request mix (instance reads, exec, file writes and reads, chat-event pages)
// for a fixed time, first against one `clawport serve` on PostgreSQL (the baseline, in this
// process), then spread round-robin over several replicas sharing that database and data folder.
// Prints throughput, p50/p95/p99 per kind, errors, and the ratio to the baseline. Instances run
// without the agent. Needs a PostgreSQL role that may create databases:
//   CLAWPORT_TEST_DATABASE_URL=postgres://... node bench/replicas.ts [--replicas 3] [--duration 20]
//                                                                     [--clients 24] [--instances 3]
//                                                                     [--warmup 5]
import { TEST_PLANS } from '../test/helpers/plans.ts'
import { freshDatabase } from '../test/helpers/postgres.ts'
import { TEST_SECRET_KEY, TestServer, tempDataDir } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const REPLICAS = arg('replicas', 3)
const DURATION_S = arg('duration', 20)
const CLIENTS = arg('clients', 24)
const INSTANCES = arg('instances', 3)
const WARMUP_S = arg('warmup', 5)

if (!process.env.CLAWPORT_TEST_DATABASE_URL) {
  console.log('bench/replicas: set CLAWPORT_TEST_DATABASE_URL (a role that may create databases); skipped')
  process.exit(0)
}

const db = await freshDatabase('bench_replicas')
const dataDir = tempDataDir('clawport-bench-replicas-')
const env = {
  CLAWPORT_DATABASE_URL: db.url,
  CLAWPORT_SECRET_KEY: TEST_SECRET_KEY,
  CLAWPORT_GATEWAY: 'off',
  CLAWPORT_DESKTOP: 'off',
  CLAWPORT_PLANS: TEST_PLANS,
  CLAWPORT_TMP_SIZE_MB: '64',
  CLAWPORT_RATE_LIMIT_PER_MIN: '100000000',
  CLAWPORT_INSTANCE_RATE_LIMIT_PER_MIN: '0',
}

type Kind = 'get' | 'exec' | 'write' | 'read' | 'events'
const KINDS: Kind[] = ['get', 'exec', 'write', 'read', 'events']

interface Result {
  ops: number
  seconds: number
  errors: number
  firstErrors: string[]
  samples: Record<Kind, number[]>
}

/** Runs the mix against `servers` (client c uses server c % n) for DURATION_S. */
async function mix(
  servers: TestServer[],
  key: string,
  ids: string[],
  durationS = DURATION_S,
): Promise<Result> {
  const samples = Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<Kind, number[]>
  const firstErrors: string[] = []
  let errors = 0
  const deadline = Date.now() + durationS * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const id = ids[c % ids.length] as string
      const base = `/api/instances/${id}`
      const file = `bench/c${c}.txt`
      let n = 0
      while (Date.now() < deadline) {
        // Each request goes to the next replica, as a round-robin balancer would send it.
        const s = servers[(c + n) % servers.length] as TestServer
        const kind = KINDS[(c + n++) % KINDS.length] as Kind
        const t = performance.now()
        let problem: string | undefined
        try {
          if (kind === 'get') {
            const r = await s.api('GET', base, { key })
            if (r.status !== 200) problem = `get ${r.status}`
          } else if (kind === 'exec') {
            const r = await s.api('POST', `${base}/terminal/exec`, { key, body: { command: 'echo ok' } })
            if (r.status !== 200 || r.body.stdout !== 'ok\n') problem = `exec ${r.status}`
          } else if (kind === 'write') {
            const r = await s.api('POST', `${base}/files/write`, {
              key,
              body: { path: file, content: `c${c} n${n}` },
            })
            if (r.status !== 200) problem = `write ${r.status}`
          } else if (kind === 'read') {
            const r = await s.api('GET', `${base}/files/read?path=${encodeURIComponent(file)}`, { key })
            if (r.status !== 200 && r.status !== 404) problem = `read ${r.status}`
          } else {
            const r = await s.api('GET', `${base}/chat/events?after=0&limit=50`, { key })
            if (r.status !== 200) problem = `events ${r.status}`
          }
        } catch (err) {
          problem = `${kind}: ${(err as Error).message}`
        }
        if (problem) {
          errors++
          if (firstErrors.length < 5) firstErrors.push(problem)
        } else samples[kind].push(performance.now() - t)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const ops = Object.values(samples).reduce((a, s) => a + s.length, 0)
  return { ops, seconds, errors, firstErrors, samples }
}

function print(label: string, r: Result): void {
  console.log(
    `\n${label}: ${(r.ops / r.seconds).toFixed(0)} req/s over ${r.seconds.toFixed(1)} s, ${r.errors} errors`,
  )
  for (const k of KINDS) console.log(`  ${line(k, summarize(r.samples[k]))}`)
  for (const e of r.firstErrors) console.log(`  error: ${e}`)
}

const servers: TestServer[] = []
try {
  servers.push(await new TestServer(dataDir, { ...env }).start())
  const first = servers[0] as TestServer
  const key = await first.user('bench@example.com', 'team')
  const ids: string[] = []
  for (let i = 0; i < INSTANCES; i++) ids.push((await first.readyInstance(key)).id)
  console.log(`${INSTANCES} instances ready; ${CLIENTS} clients, ${DURATION_S} s per run, PostgreSQL store`)
  // Each run is warmed up first (JIT, connection pools, each replica's clawlet clients).
  await mix([first], key, ids, WARMUP_S)
  const one = await mix([first], key, ids)
  print('one replica', one)
  for (let i = 1; i < REPLICAS; i++) {
    const r = await new TestServer(dataDir, { ...env }).start()
    r.adminKey = first.adminKey
    servers.push(r)
  }
  await mix(servers, key, ids, WARMUP_S)
  const many = await mix(servers, key, ids)
  print(`${REPLICAS} replicas, round-robin`, many)
  console.log(
    `\nthroughput ratio ${REPLICAS} replicas / one: ${(many.ops / many.seconds / (one.ops / one.seconds)).toFixed(2)}` +
      ` (on this machine's ${(await import('node:os')).cpus().length} cores, which every replica and sandbox share)`,
  )
} finally {
  for (const s of servers.slice(1)) await s.stop().catch(() => {})
  await servers[0]?.destroy()
  await db.drop()
}
