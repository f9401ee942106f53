import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'
import { waitFor } from './helpers/wait.js'

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789'

/**
 * Metrics of a real instance: they move when it burns CPU, and the Prometheus endpoint is for
 * the operator only. The instance has no network (TEST_ENV): its network counters are null.
 */
describe('instance metrics', () => {
  let s: TestServer
  let key: string
  let otherKey: string
  let id: string

  beforeAll(async () => {
    s = await startServer({ ...TEST_ENV, CLAWPORT_METRICS_TOKEN: METRICS_TOKEN })
    key = await s.user('metrics@example.com', 'pro')
    otherKey = await s.user('metrics-other@example.com', 'pro')
    id = (await s.readyInstance(key)).id
  }, 120_000)
  afterAll(() => s?.destroy())

  const metrics = async () => {
    const res = await s.api('GET', `/api/instances/${id}/metrics`, { key })
    expect(res.status).toBe(200)
    return res.body
  }

  it('reads memory, processes and CPU from the cgroups, and CPU climbs under a busy loop', async () => {
    // Just after ready the clawlet is still warming up (Node loading its code): wait for quiet.
    let idle: any
    await waitFor(
      () => `the instance to go quiet, CPU now ${idle?.cpu.percent}%`,
      async () => {
        idle = await metrics()
        return idle.cpu.percent < 50
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    )
    expect(idle).toMatchObject({ instance_id: id, status: 'ready', running: true, network: null })
    expect(idle.memory.used_bytes).toBeGreaterThan(1024 * 1024)
    expect(idle.memory.limit_bytes).toBe(512 * 1024 * 1024)
    expect(idle.processes.count).toBeGreaterThanOrEqual(1)
    expect(idle.processes.limit).toBe(256)
    expect(idle.cpu.limit_cpus).toBe(1)
    expect(idle.cpu.percent).toBeLessThan(50)
    const burn = s.exec(id, 'timeout 6 sh -c "while :; do :; done"; true', { timeout_ms: 20_000 }, key)
    await new Promise((r) => setTimeout(r, 1500))
    await metrics()
    await new Promise((r) => setTimeout(r, 1500))
    const busy = await metrics()
    // One busy loop under a one-CPU quota, on a shared (often overloaded) 2-core host: well
    // above idle, never past the quota by much.
    expect(busy.cpu.percent).toBeGreaterThan(Math.max(20, idle.cpu.percent + 10))
    expect(busy.cpu.percent).toBeLessThan(130)
    expect(busy.cpu.usage_seconds).toBeGreaterThan(idle.cpu.usage_seconds + 0.5)
    await burn
  }, 60_000)

  it("is the owner's only", async () => {
    const res = await s.api('GET', `/api/instances/${id}/metrics`, { key: otherKey })
    expect(res.status).toBe(404)
  })

  it("serves the clawlet's own log from the instance disk", async () => {
    const res = await s.api('GET', `/api/instances/${id}/logs?source=clawlet`, { key })
    expect(res.status).toBe(200)
    expect(res.body.lines.some((l: string) => l.includes('clawlet listening'))).toBe(true)
    const boot = await s.api('GET', `/api/instances/${id}/logs?source=boot&tail=50`, { key })
    expect(boot.body.lines.length).toBeGreaterThan(0)
  })

  it('serves Prometheus metrics to the metrics token or an administrator only', async () => {
    expect((await s.api('GET', '/metrics', { key: null })).status).toBe(401)
    expect((await s.api('GET', '/metrics', { key })).status).toBe(403)
    expect((await s.api('GET', '/metrics', { key: 'not-the-token-0123456789' })).status).toBe(401)
    const admin = await s.api('GET', '/metrics')
    expect(admin.status).toBe(200)
    const res = await s.api('GET', '/metrics', { key: METRICS_TOKEN })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = res.body as string
    expect(text).toMatch(new RegExp(`clawport_instance_cpu_seconds_total\\{instance="${id}"\\} [0-9.]+`))
    expect(text).toMatch(new RegExp(`clawport_instance_memory_bytes\\{instance="${id}"\\} [1-9]`))
    expect(text).toContain('clawport_instances{status="ready"} 1')
    expect(text).toContain('route="/api/instances/:id/metrics"')
    expect(text).toContain('clawport_http_errors_total{code="instance_not_found",status="404"}')
    expect(text).toContain('clawport_broker_tokens_total{kind="prompt"} 0')
    expect(text).toContain('clawport_pool_instances{state="target"}')
    expect(text).not.toContain(METRICS_TOKEN)
  })
})
