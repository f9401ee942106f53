// Instance create -> ready served from the warm pool (real OpenClaw gateways, warmed with a
// first turn) on each of two plans with different limits, against a cold create on the same
// server. Run as root after set-up:
// node bench/pool.ts [pooled creates per plan]
import { startModelServer } from '../test/fixtures/model-server.ts'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 3)
const PLANS = ['bench', 'bench-big']
const plans = JSON.stringify([
  { name: 'free', instance_limit: 0 },
  { name: 'bench', instance_limit: 100, memory_mb: 2048, cpus: 2, pids_max: 1024, disk_mb: 1024 },
  { name: 'bench-big', instance_limit: 50, memory_mb: 2048, cpus: 2, pids_max: 1024, disk_mb: 2048 },
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

/** Waits until the plan's pool has a ready instance. */
async function poolReady(plan: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { plans } = (await server.api('GET', '/api/admin/pool')).body as {
      plans: Array<{ plan: string; ready: number }>
    }
    if ((plans.find((p) => p.plan === plan)?.ready ?? 0) >= 1) return
    if (Date.now() > deadline) throw new Error(`the pool of ${plan} did not fill`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

try {
  const keys: Record<string, string> = { bench: server.adminKey }
  for (const plan of PLANS.slice(1)) keys[plan] = await server.user(`${plan}@example.com`, plan)
  const pooled: Record<string, number[]> = {}
  const firstTurn: number[] = []
  for (const plan of PLANS) {
    pooled[plan] = []
    for (let i = 0; i < N; i++) {
      await poolReady(plan)
      const t = performance.now()
      const res = await server.api('POST', '/api/instances', { key: keys[plan] })
      if (res.body.status !== 'ready')
        throw new Error(`not served from the pool: ${JSON.stringify(res.body)}`)
      pooled[plan].push(performance.now() - t)
      const t2 = performance.now()
      const turn = await server.api('POST', `/api/instances/${res.body.id}/chat`, {
        key: keys[plan],
        body: { message: 'hello' },
      })
      if (turn.status !== 200) throw new Error(`turn failed: ${JSON.stringify(turn.body)}`)
      firstTurn.push(performance.now() - t2)
      // The big plan allows fewer instances: keep within its limit.
      await server.api('DELETE', `/api/instances/${res.body.id}`, { key: keys[plan] })
    }
  }
  await poolReady('bench')
  // Each plan's pool holds one instance: with it taken, the next create starts cold.
  await server.api('POST', '/api/instances')
  const t = performance.now()
  const res = await server.api('POST', '/api/instances')
  const { id } = await server.waitStatus(res.body.id, 'ready', server.adminKey, 600_000)
  const cold = performance.now() - t
  const gw = (await server.api('GET', `/api/instances/${id}/status`)).body.gateway
  console.log(
    `instance create -> ready with the OpenClaw gateway (targets: pool p50 <= 300 ms on every plan; cold <= 15 s)`,
  )
  console.log(line('cold create -> ready', summarize([cold])))
  for (const plan of PLANS)
    console.log(line(`pooled create -> ready (${plan})`, summarize(pooled[plan] ?? [])))
  console.log(line("pooled instance's first chat turn", summarize(firstTurn)))
  const p50 = summarize(pooled.bench ?? []).p50
  console.log(`ratio cold/pooled: ${(cold / p50).toFixed(0)}x; gateway boot ${gw?.ready_ms} ms`)
} finally {
  await server.destroy()
  await model.close()
}
