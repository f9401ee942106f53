import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BURN } from './helpers/burn.js'
import { TEST_ENV } from './helpers/plans.js'
import { startServer, type TestServer } from './helpers/server.js'

/**
 * A CPU burner in an instance limited to half a CPU runs in a cgroup the kernel holds to that
 * quota, finishes its work, and another instance's commands keep answering. How much CPU it
 * gets, how often the kernel throttles it and how the neighbour's latency moves (all of which
 * depend on the host's load) is measured by bench/cpu-quota.ts.
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

  /** The instance's cgroup folder for the cpu controller (cgroup v2, else v1), if it has one. */
  function cpuDir(id: string): string | undefined {
    return [`/sys/fs/cgroup/clawport/${id}`, `/sys/fs/cgroup/cpu/clawport/${id}`].find((d) =>
      fs.existsSync(`${d}/cpu.stat`),
    )
  }

  /** The CPU quota the kernel holds for the instance, as "quota period" in microseconds. */
  function quota(dir: string): string {
    if (fs.existsSync(`${dir}/cpu.max`)) return fs.readFileSync(`${dir}/cpu.max`, 'utf8').trim()
    const read = (f: string) => fs.readFileSync(`${dir}/${f}`, 'utf8').trim()
    return `${read('cpu.cfs_quota_us')} ${read('cpu.cfs_period_us')}`
  }

  it('runs under its 0.5 CPU quota while another instance keeps answering', async () => {
    const dir = cpuDir(burner)
    expect(dir, 'the instance has a cpu cgroup').toBeTypeOf('string')
    expect(quota(dir as string)).toBe('50000 100000')
    // What the instance runs is under that quota: in its workload's cgroup (v1: the cpu hierarchy's).
    const where = await s.exec(burner, 'cat /proc/self/cgroup', {}, key)
    expect(where.stdout).toMatch(
      new RegExp(`^(\\d+:[\\w,]*cpu[\\w,]*|0:):/clawport/${burner}/workload$`, 'm'),
    )
    const seconds = 4
    const burn = s.exec(burner, BURN(4, seconds), { timeout_ms: 60_000 }, key)
    await new Promise((r) => setTimeout(r, 1000))
    for (let i = 0; i < 5; i++) expect((await s.exec(other, 'echo fine', {}, key)).stdout).toBe('fine\n')
    const res = await burn
    expect(res.exit_code, res.stderr).toBe(0)
    expect(Number(res.stdout.trim())).toBeGreaterThan(0)
  }, 120_000)
})
