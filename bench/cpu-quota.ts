// A CPU burner in an instance of half a CPU (the `tiny` plan): the cores it gets against its
// quota, how many of its periods the kernel throttled, and the exec latency of another instance
// while it burns, against the same exec before it starts, in the same process.
// Run as root after set-up: node bench/cpu-quota.ts [seconds of burning]
import fs from 'node:fs'
import { BURN } from '../test/helpers/burn.ts'
import { TEST_ENV } from '../test/helpers/plans.ts'
import { startServer } from '../test/helpers/server.ts'
import { line, type Summary, summarize } from './stats.ts'

const SECONDS = Number(process.argv[2] ?? 10)
const QUOTA_CORES = 0.5

/** The instance's CPU periods so far and those in which it hit its quota (cgroup v2, else v1). */
function periods(id: string): { all: number; throttled: number } {
  const dir = [`/sys/fs/cgroup/clawport/${id}`, `/sys/fs/cgroup/cpu/clawport/${id}`].find((d) =>
    fs.existsSync(`${d}/cpu.stat`),
  )
  const stat = dir ? fs.readFileSync(`${dir}/cpu.stat`, 'utf8') : ''
  const n = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0)
  return { all: n('nr_periods'), throttled: n('nr_throttled') }
}

const server = await startServer({
  ...TEST_ENV,
  CLAWPORT_RATE_LIMIT_PER_MIN: '1000000',
  CLAWPORT_INSTANCE_RATE_LIMIT_PER_MIN: '1000000',
})
try {
  const key = await server.user('bench@example.com', 'tiny')
  const [burner, other] = (await Promise.all([server.readyInstance(key), server.readyInstance(key)])).map(
    (i) => i.id,
  ) as [string, string]

  /** Exec latencies of `true` on the other instance until `until` is past (ms since the epoch). */
  async function execLatencies(until: number): Promise<number[]> {
    const out: number[] = []
    while (Date.now() < until) {
      const t = performance.now()
      const r = await server.exec(other, 'true', {}, key)
      if (r.exit_code !== 0) throw new Error(`exec failed: ${JSON.stringify(r)}`)
      out.push(performance.now() - t)
    }
    return out
  }

  const before = summarize(await execLatencies(Date.now() + SECONDS * 1000))
  const periodsBefore = periods(burner)
  const burn = server.exec(burner, BURN(4, SECONDS), { timeout_ms: (SECONDS + 60) * 1000 }, key)
  // Leave out the start of the burn and its end.
  await new Promise((r) => setTimeout(r, 500))
  const during = summarize(await execLatencies(Date.now() + (SECONDS - 1) * 1000))
  const res = await burn
  if (res.exit_code !== 0) throw new Error(`burner failed: ${res.stderr}`)
  const cores = Number(res.stdout.trim()) / SECONDS
  const periodsAfter = periods(burner)
  const all = periodsAfter.all - periodsBefore.all
  const throttled = periodsAfter.throttled - periodsBefore.throttled

  const ratio = (a: Summary, b: Summary) =>
    `p50 x${(a.p50 / b.p50).toFixed(2)} p95 x${(a.p95 / b.p95).toFixed(2)} p99 x${(a.p99 / b.p99).toFixed(2)}`
  console.log(
    `burner: 4 busy processes for ${SECONDS} s got ${cores.toFixed(2)} cores of a ${QUOTA_CORES} quota (x${(cores / QUOTA_CORES).toFixed(2)})`,
  )
  console.log(
    `kernel: throttled in ${throttled} of ${all} periods (${((100 * throttled) / Math.max(1, all)).toFixed(0)}%)`,
  )
  console.log(line('baseline: exec on the other, idle', before))
  console.log(line('exec on the other, while it burns', during))
  console.log(`exec burning/idle: ${ratio(during, before)}`)
  console.log(
    `targets: cores <= 1.5x quota ${cores <= 1.5 * QUOTA_CORES ? 'met' : 'missed'}; exec p99 while burning <= 3000 ms ${during.p99 <= 3000 ? 'met' : 'missed'}`,
  )
} finally {
  await server.destroy()
}
