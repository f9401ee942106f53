// Desktop ready time after an instance starts: POST /start on a stopped instance until its status
// reports the desktop ready (and the clawlet's own measure, Xtigervnc spawn -> accepting), against
// Xtigervnc started directly in this process (spawn -> -displayfd answer) as the baseline.
// Run as root after set-up: node bench/desktop.ts [starts]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 10)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Xtigervnc alone, as the clawlet runs it: spawn until it accepts clients (it writes its display to fd 3). */
async function bareXvnc(dir: string): Promise<number> {
  const t = performance.now()
  const args = ['-rfbport', '-1', '-rfbunixpath', path.join(dir, 'vnc.sock'), '-SecurityTypes', 'None']
  args.push('-geometry', '1280x800', '-depth', '24', '-nolisten', 'tcp', '-displayfd', '3')
  const x = spawn('Xtigervnc', args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    x.stdio[3]?.once('data', () => resolve())
    x.once('exit', (code) => reject(new Error(`Xtigervnc exited with ${code}`)))
  })
  const ms = performance.now() - t
  const exited = new Promise((r) => x.once('exit', r))
  x.kill('SIGTERM')
  await exited
  return ms
}

const dir = mkdtempSync(path.join(tmpdir(), 'clawport-bench-x-'))
const server = await startServer({
  CLAWPORT_GATEWAY: 'off',
  CLAWPORT_POOL_SIZE: '0',
  CLAWPORT_RATE_LIMIT_PER_MIN: '1000000',
})
try {
  const { id } = await server.readyInstance()
  const base: number[] = []
  const startToDesktop: number[] = []
  const startToInstance: number[] = []
  const inside: number[] = []
  for (let i = 0; i < N; i++) {
    base.push(await bareXvnc(dir))
    await server.api('POST', `/api/instances/${id}/shutdown`)
    await server.waitStatus(id, 'stopped')
    const t = performance.now()
    const res = await server.api('POST', `/api/instances/${id}/start`)
    if (res.status !== 202) throw new Error(`start failed: ${JSON.stringify(res.body)}`)
    let instanceAt: number | undefined
    for (;;) {
      const st = (await server.api('GET', `/api/instances/${id}/status`)).body
      if (st.status === 'ready' && instanceAt === undefined) instanceAt = performance.now() - t
      if (st.desktop?.status === 'ready') {
        startToDesktop.push(performance.now() - t)
        startToInstance.push(instanceAt ?? performance.now() - t)
        inside.push(st.desktop.ready_ms)
        break
      }
      if (performance.now() - t > 30_000) throw new Error(`desktop not ready: ${JSON.stringify(st)}`)
      await sleep(2)
    }
  }
  console.log(`desktop ready after instance start, ${N} starts (target: <= 250 ms)`)
  console.log(line('baseline: bare Xtigervnc spawn->ready', summarize(base)))
  console.log(line('clawlet: Xtigervnc spawn->ready', summarize(inside)))
  console.log(line('API: POST /start -> instance ready', summarize(startToInstance)))
  console.log(line('API: POST /start -> desktop ready', summarize(startToDesktop)))
} finally {
  await server.destroy()
  rmSync(dir, { recursive: true, force: true })
}
