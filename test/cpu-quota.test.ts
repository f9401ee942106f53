import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { summarize } from '../bench/stats.ts'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'

/** Forks busy loops for a while, then prints the CPU seconds they used together. */
const BURN = (procs: number, seconds: number) =>
  `python3 -c "
import os, time
for i in range(${procs}):
    if os.fork() == 0:
        end = time.time() + ${seconds}
        while time.time() < end: pass
        os._exit(0)
for i in range(${procs}): os.wait()
t = os.times()
print(t.children_user + t.children_system)
"`

/**
 * A CPU burner in an instance limited to half a CPU stays near that quota, and another
 * instance's commands keep answering. Bounds are generous: the host is shared with other tests.
 */
describe('a CPU burner', () => {
  let s: TestServer
  let key: string
  let burner: string
  let other: string

  beforeAll(async () => {
    s = await startServer(TEST_ENV)
    key = await s.user('burner@example.com', 'tiny')
    ;[burner, other] = (await Promise.all([s.readyInstance(key), s.readyInstance(key)])).map((i) => i.id) as [
      string,
      string,
    ]
  }, 120_000)
  afterAll(() => s?.destroy())

  /** Periods in which the instance's cgroup hit its CPU quota (cgroup v2 or v1), if readable. */
  function throttled(id: string): number | undefined {
    for (const dir of [`/sys/fs/cgroup/clawport/${id}`, `/sys/fs/cgroup/cpu/clawport/${id}`]) {
      const stat = fs.existsSync(`${dir}/cpu.stat`) ? fs.readFileSync(`${dir}/cpu.stat`, 'utf8') : ''
      const m = /^nr_throttled (\d+)$/m.exec(stat)
      if (m) return Number(m[1])
    }
    return undefined
  }

  async function execLatencies(n: number): Promise<number[]> {
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const t = performance.now()
      expect((await s.exec(other, 'true', {}, key)).exit_code).toBe(0)
      out.push(performance.now() - t)
    }
    return out
  }

  it('stays near its 0.5 CPU quota while another instance keeps answering', async () => {
    const seconds = 6
    const throttledBefore = throttled(burner)
    const before = summarize(await execLatencies(10))
    const burn = s.exec(burner, BURN(4, seconds), { timeout_ms: 60_000 }, key)
    await new Promise((r) => setTimeout(r, 1000))
    const during = summarize(await execLatencies(10))
    const res = await burn
    expect(res.exit_code, res.stderr).toBe(0)
    const cores = Number(res.stdout.trim()) / seconds
    console.log(
      `burner: ${cores.toFixed(2)} CPUs of a 0.5 quota; other instance exec p50 ${before.p50.toFixed(1)} ms before, ${during.p50.toFixed(1)} ms during (max ${during.p99.toFixed(1)} ms)`,
    )
    // Four busy processes would take every core of the host without the quota.
    expect(cores).toBeGreaterThan(0.05)
    expect(cores).toBeLessThan(0.75)
    // The kernel held it back: the quota, not the host's load, is what limited it.
    if (throttledBefore !== undefined) expect(throttled(burner)).toBeGreaterThan(throttledBefore)
    expect(during.p50).toBeLessThan(1000)
    expect(during.p99).toBeLessThan(3000)
  }, 120_000)
})
