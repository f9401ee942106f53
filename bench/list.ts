// Authenticated GET /api/instances requests per second, against unauthenticated GET /healthz
// on the same server as the baseline. Run after set-up: node bench/list.ts [seconds] [concurrency]
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

const SECONDS = Number(process.argv[2] ?? 5)
const CONCURRENCY = Number(process.argv[3] ?? 16)
const server = await startServer({ CLAWPORT_RATE_LIMIT_PER_MIN: '100000000', CLAWPORT_GATEWAY: 'off' })

async function load(path: string, key: string | null) {
  const samples: number[] = []
  let errors = 0
  const deadline = performance.now() + SECONDS * 1000
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {}
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now()
        const res = await fetch(server.url + path, { headers })
        await res.arrayBuffer()
        if (res.status !== 200) errors++
        samples.push(performance.now() - t)
      }
    }),
  )
  return { rps: samples.length / SECONDS, errors, s: summarize(samples) }
}

try {
  for (let i = 0; i < 3; i++) await server.api('POST', '/api/instances')
  await load('/healthz', null)
  const base = await load('/healthz', null)
  const list = await load('/api/instances', server.adminKey)
  console.log(`requests per second, ${SECONDS} s at concurrency ${CONCURRENCY}`)
  console.log(`${line('baseline: GET /healthz', base.s)}  rps=${base.rps.toFixed(0)} errors=${base.errors}`)
  console.log(
    `${line('API: GET /api/instances (3 items)', list.s)}  rps=${list.rps.toFixed(0)} errors=${list.errors}`,
  )
  console.log(`ratio list/baseline rps: ${(list.rps / base.rps).toFixed(2)}`)
} finally {
  await server.destroy()
}
