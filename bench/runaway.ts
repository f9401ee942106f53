// The host and a bystander instance while one instance runs a fork bomb and another a CPU
// burner, against the same measures at idle in the same process: the host's idle CPU (from
// /proc/stat), and the latency of exec on a third instance and of an API read. The bomb is
// started again each time the host ends it, so the whole phase runs under a bomb.
// Run as root after set-up: node bench/runaway.ts [seconds per phase]
import fs from 'node:fs'
import os from 'node:os'
import { startServer } from '../test/helpers/server.ts'
import { line, type Summary, summarize } from './stats.ts'

const SECONDS = Number(process.argv[2] ?? 20)
// cpus 2 on a 2-core host: the reserve (CLAWPORT_CPU_RESERVE, 0.5) is what keeps a core's half free.
const PLANS = JSON.stringify([
  { name: 'free', instance_limit: 0, network: 'off' },
  { name: 'bench', instance_limit: 3, memory_mb: 512, cpus: 2, pids_max: 128, disk_mb: 256, network: 'off' },
])
const BOMB = "bash -c 'f() { while :; do f & done; }; f' >/dev/null 2>&1 &"
const BURN = 'for i in 1 2 3 4; do nohup python3 -c "while True: pass" >/dev/null 2>&1 & done'

/** Idle and total jiffies of all CPUs. */
function cpuTimes(): { idle: number; total: number } {
  const cols = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] as string)
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const idle = (cols[3] ?? 0) + (cols[4] ?? 0)
  return { idle, total: cols.reduce((a, b) => a + b, 0) }
}

/** CPU seconds an instance used so far (v1 cpuacct, v2 cpu.stat). */
function instanceCpuSeconds(id: string): number {
  const v1 = `/sys/fs/cgroup/cpuacct/clawport/${id}/cpuacct.usage`
  if (fs.existsSync(v1)) return Number(fs.readFileSync(v1, 'utf8')) / 1e9
  const stat = fs.readFileSync(`/sys/fs/cgroup/clawport/${id}/cpu.stat`, 'utf8')
  return Number(/^usage_usec (\d+)$/m.exec(stat)?.[1]) / 1e6
}

const server = await startServer({
  CLAWPORT_PLANS: PLANS,
  CLAWPORT_DEFAULT_PLAN: 'free',
  CLAWPORT_GATEWAY: 'off',
  CLAWPORT_DESKTOP: 'off',
  CLAWPORT_TMP_SIZE_MB: '64',
  CLAWPORT_RATE_LIMIT_PER_MIN: '1000000',
  CLAWPORT_INSTANCE_RATE_LIMIT_PER_MIN: '1000000',
})
try {
  const key = await server.user('bench@example.com', 'bench')
  const [bomb, burner, probe] = (
    await Promise.all([server.readyInstance(key), server.readyInstance(key), server.readyInstance(key)])
  ).map((i) => i.id) as [string, string, string]
  const kills = () => server.output.split('\n').filter((l) => l.includes('runaway processes killed')).length

  /** Samples exec and API latency for `seconds`; returns them with the host's idle share. */
  async function phase(seconds: number, during?: () => Promise<void>) {
    const exec: number[] = []
    const api: number[] = []
    const t0 = cpuTimes()
    const end = Date.now() + seconds * 1000
    let failures = 0
    while (Date.now() < end) {
      await during?.()
      let t = performance.now()
      const e = await server.api('POST', `/api/instances/${probe}/terminal/exec`, {
        key,
        body: { command: 'true' },
      })
      exec.push(performance.now() - t)
      t = performance.now()
      const r = await server.api('GET', `/api/instances/${probe}`, { key })
      api.push(performance.now() - t)
      if (e.status !== 200 || r.status !== 200) failures++
      await new Promise((res) => setTimeout(res, 50))
    }
    const t1 = cpuTimes()
    const idlePct = (100 * (t1.idle - t0.idle)) / Math.max(1, t1.total - t0.total)
    return { exec: summarize(exec), api: summarize(api), idlePct, failures }
  }

  const idle = await phase(SECONDS)
  await server.exec(burner, BURN, {}, key)
  const cpuStart = {
    at: performance.now(),
    burner: instanceCpuSeconds(burner),
    bomb: instanceCpuSeconds(bomb),
  }
  let seen = kills()
  let bombs = 1
  // ms from starting a bomb to the host ending it.
  const toEnd: number[] = []
  let bombAt = performance.now()
  await server.exec(bomb, BOMB, {}, key)
  const load = await phase(SECONDS, async () => {
    if (kills() === seen) return
    toEnd.push(performance.now() - bombAt)
    seen = kills()
    bombs++
    bombAt = performance.now()
    await server.exec(bomb, BOMB, {}, key)
  })
  const ended = kills()
  const elapsedS = (performance.now() - cpuStart.at) / 1000
  const burnCores = (instanceCpuSeconds(burner) - cpuStart.burner) / elapsedS
  const bombCores = (instanceCpuSeconds(bomb) - cpuStart.bomb) / elapsedS
  await server.exec(burner, 'pkill python3; true', {}, key)

  const ratio = (a: Summary, b: Summary) =>
    `p50 x${(a.p50 / b.p50).toFixed(2)} p95 x${(a.p95 / b.p95).toFixed(2)} p99 x${(a.p99 / b.p99).toFixed(2)}`
  console.log(
    `host idle CPU: ${idle.idlePct.toFixed(1)}% idle phase, ${load.idlePct.toFixed(1)}% under bomb + burner`,
  )
  console.log(line('exec on a third instance, idle', idle.exec))
  console.log(line('exec on a third instance, loaded', load.exec))
  console.log(line('API read, idle', idle.api))
  console.log(line('API read, loaded', load.api))
  console.log(
    `exec loaded/idle: ${ratio(load.exec, idle.exec)}; API loaded/idle: ${ratio(load.api, idle.api)}`,
  )
  console.log(
    `CPU taken by the burner ${burnCores.toFixed(2)} and the bomb ${bombCores.toFixed(2)} cores of ${os.availableParallelism()}: ${((100 * (burnCores + bombCores)) / os.availableParallelism()).toFixed(1)}% of the host (the rest was the host's own and other load)`,
  )
  console.log(
    `bombs started ${bombs}, ended by the host ${ended}; failed calls ${idle.failures + load.failures}`,
  )
  if (toEnd.length) console.log(line('fork bomb started to ended by the host', summarize(toEnd)))
  const within = load.exec.p95 <= 2 * idle.exec.p95 && load.api.p95 <= 2 * idle.api.p95
  console.log(
    `targets: p95 within 2x idle ${within ? 'met' : 'missed'}; host idle >= 30% ${load.idlePct >= 30 ? 'met' : 'missed'}`,
  )
} finally {
  await server.destroy()
}
