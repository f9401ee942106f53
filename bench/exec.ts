// Exec round trip of `true` through the public API, against a bare spawn of /bin/true in the
// same process as the baseline. Run as root after set-up: node bench/exec.ts [iterations]
import { spawn } from 'node:child_process'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize, time } from './stats.ts'

const N = Number(process.argv[2] ?? 500)
const server = await startServer({ CLAWPORT_RATE_LIMIT_PER_MIN: '1000000', CLAWPORT_GATEWAY: 'off' })
try {
  const { id } = await server.readyInstance()
  const spawnTrue = () =>
    new Promise<void>((resolve, reject) => {
      const p = spawn('/bin/true', { stdio: 'ignore' })
      p.once('exit', () => resolve())
      p.once('error', reject)
    })
  const execTrue = async () => {
    const res = await server.api('POST', `/api/instances/${id}/terminal/exec`, { body: { command: 'true' } })
    if (res.status !== 200 || res.body.exit_code !== 0)
      throw new Error(`exec failed: ${JSON.stringify(res.body)}`)
  }
  const base = summarize(await time(N, spawnTrue))
  const api = summarize(await time(N, execTrue))
  const base2 = summarize(await time(N, spawnTrue))
  const baseline = { ...base, p50: (base.p50 + base2.p50) / 2 }
  console.log(`exec round trip, ${N} calls each (target: API p50 <= 5 ms)`)
  console.log(line('baseline: spawn /bin/true', baseline))
  console.log(line('API: POST /terminal/exec true', api))
  console.log(
    `ratio API/baseline p50: ${(api.p50 / baseline.p50).toFixed(2)}x; added p50: ${(api.p50 - baseline.p50).toFixed(2)} ms`,
  )
} finally {
  await server.destroy()
}
