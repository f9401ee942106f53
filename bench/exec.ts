// Exec round trip of `true` through the public API, against a bare spawn of /bin/true in the
// same process as the baseline, with a breakdown: the same call straight to the instance's
// clawlet (its Unix socket, no API in between) and a cheap authenticated API read (no clawlet).
// Then commands that must not hold the call: one past its timeout (its whole process group
// killed), against the timeout, and one leaving a child that holds its pipes, against `true`.
// Run as root after set-up: node bench/exec.ts [iterations]
import { spawn } from 'node:child_process'
import { Agent, request } from 'node:http'
import { instanceLayout } from '../src/drivers/local/layout.ts'
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
  // The clawlet's own HTTP API on its Unix socket, on one kept-alive connection like the server's.
  const agent = new Agent({ keepAlive: true })
  const socketPath = instanceLayout(server.dataDir, id).socketPath
  const body = JSON.stringify({ command: 'true' })
  const directTrue = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          socketPath,
          agent,
          path: '/v1/exec',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const out = JSON.parse(Buffer.concat(chunks).toString())
            if (res.statusCode === 200 && out.exit_code === 0) resolve()
            else reject(new Error(`exec failed: ${res.statusCode} ${JSON.stringify(out)}`))
          })
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  const readInstance = async () => {
    const res = await server.api('GET', `/api/instances/${id}`)
    if (res.status !== 200) throw new Error(`read failed: ${res.status}`)
  }
  const base = summarize(await time(N, spawnTrue))
  const api = summarize(await time(N, execTrue))
  const direct = summarize(await time(N, directTrue))
  const read = summarize(await time(N, readInstance))
  const base2 = summarize(await time(N, spawnTrue))
  agent.destroy()
  const baseline = { ...base, p50: (base.p50 + base2.p50) / 2 }
  console.log(`exec round trip, ${N} calls each (target: API p50 <= 5 ms)`)
  console.log(line('baseline: spawn /bin/true', baseline))
  console.log(line('API: POST /terminal/exec true', api))
  console.log(line('  clawlet socket: POST /v1/exec', direct))
  console.log(line('  API only: GET /api/instances/{id}', read))
  console.log(
    `ratio API/baseline p50: ${(api.p50 / baseline.p50).toFixed(2)}x; added p50: ${(api.p50 - baseline.p50).toFixed(2)} ms`,
  )

  const TIMEOUT_MS = 500
  const rounds = Math.min(N, 20)
  const pastTimeout = summarize(
    await time(
      rounds,
      async () => {
        const r = await server.exec(id, 'sleep 300 & sleep 301; echo never', { timeout_ms: TIMEOUT_MS })
        if (!r.timed_out) throw new Error(`not timed out: ${JSON.stringify(r)}`)
      },
      1,
    ),
  )
  const leavesChild = summarize(
    await time(
      rounds,
      async () => {
        const r = await server.exec(id, 'sleep 30 & echo started', { timeout_ms: 20_000 })
        if (r.timed_out || r.stdout !== 'started\n') throw new Error(`held: ${JSON.stringify(r)}`)
      },
      1,
    ),
  )
  await server.exec(id, 'pkill sleep; true')
  console.log(`\ncommands that must not hold the call, ${rounds} each`)
  console.log(line(`past its ${TIMEOUT_MS} ms timeout`, pastTimeout))
  console.log(line('leaving a child on its pipes', leavesChild))
  console.log(
    `ratios p50: past timeout/timeout x${(pastTimeout.p50 / TIMEOUT_MS).toFixed(2)}; leaving a child/exec true x${(leavesChild.p50 / api.p50).toFixed(2)}`,
  )
} finally {
  await server.destroy()
}
