// Instance create -> ready served from the warm pool (real OpenClaw gateways, warmed with a
// first turn), against a cold create on the same server. Run as root after set-up:
// node bench/pool.ts [pooled creates]
import { startModelServer } from '../test/fixtures/model-server.ts'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 3)
const plans = JSON.stringify([
  { name: 'free', instance_limit: 0 },
  { name: 'bench', instance_limit: 100, memory_mb: 2048, cpus: 2, pids_max: 1024, disk_mb: 1024 },
])
const model = await startModelServer()
const server = await startServer({
  CLAWPORT_PLANS: plans,
  CLAWPORT_GATEWAY: 'on',
  CLAWPORT_POOL_SIZE: '1',
  CLAWPORT_LLM_BASE_URL: model.baseUrl,
  CLAWPORT_LLM_MODEL: 'bench-model',
  CLAWPORT_LLM_API_KEY: 'sk-bench',
  CLAWPORT_RATE_LIMIT_PER_MIN: '1000000',
})

async function poolReady(timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((await server.api('GET', '/api/admin/pool')).body.ready < 1) {
    if (Date.now() > deadline) throw new Error('the pool did not fill')
    await new Promise((r) => setTimeout(r, 100))
  }
}

try {
  const pooled: number[] = []
  const firstTurn: number[] = []
  for (let i = 0; i < N; i++) {
    await poolReady()
    const t = performance.now()
    const res = await server.api('POST', '/api/instances')
    if (res.body.status !== 'ready') throw new Error(`not served from the pool: ${JSON.stringify(res.body)}`)
    pooled.push(performance.now() - t)
    const t2 = performance.now()
    const turn = await server.api('POST', `/api/instances/${res.body.id}/chat`, {
      body: { message: 'hello' },
    })
    if (turn.status !== 200) throw new Error(`turn failed: ${JSON.stringify(turn.body)}`)
    firstTurn.push(performance.now() - t2)
  }
  await poolReady()
  // The pool holds one instance: with it taken, the next create starts cold.
  await server.api('POST', '/api/instances')
  const t = performance.now()
  const res = await server.api('POST', '/api/instances')
  const { id } = await server.waitStatus(res.body.id, 'ready', server.adminKey, 600_000)
  const cold = performance.now() - t
  const gw = (await server.api('GET', `/api/instances/${id}/status`)).body.gateway
  console.log(
    `instance create -> ready with the OpenClaw gateway (targets: pool p50 <= 300 ms; cold <= 15 s)`,
  )
  console.log(line('cold create -> ready', summarize([cold])))
  console.log(line('pooled create -> ready', summarize(pooled)))
  console.log(line("pooled instance's first chat turn", summarize(firstTurn)))
  console.log(
    `ratio cold/pooled: ${(cold / summarize(pooled).p50).toFixed(0)}x; gateway boot ${gw?.ready_ms} ms`,
  )
} finally {
  await server.destroy()
  await model.close()
}
