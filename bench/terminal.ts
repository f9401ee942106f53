// Keystroke echo over the terminal WebSocket (one byte typed into bash, until its echo comes
// back), against the same echo from bash in a PTY spawned directly in this process as the
// baseline. Run as root after set-up: node bench/terminal.ts [keystrokes]
import { spawn as spawnPty } from '@lydell/node-pty'
import WebSocket from 'ws'
import { startServer } from '../test/helpers/server.ts'
import { line, summarize } from './stats.ts'

const N = Number(process.argv[2] ?? 1000)
const LINE_MAX = 60
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Types one letter and resolves when output holding it arrives; every LINE_MAX letters the line is cleared. */
function echoer(write: (b: Buffer) => void) {
  let waiting: { ch: string; resolve: () => void } | undefined
  let typed = 0
  const onOutput = (text: string) => {
    if (waiting && text.includes(waiting.ch)) {
      const w = waiting
      waiting = undefined
      w.resolve()
    }
  }
  /** Times n keystrokes (after warm-up ones); clearing the line is not timed. */
  const run = async (n: number, warmup = 50): Promise<number[]> => {
    const out: number[] = []
    for (let i = 0; i < n + warmup; i++) {
      if (++typed % LINE_MAX === 0) {
        write(Buffer.from('\x15')) // Ctrl-U
        await sleep(5)
      }
      const ch = String.fromCharCode(97 + (typed % 26))
      const t = performance.now()
      await new Promise<void>((resolve) => {
        waiting = { ch, resolve }
        write(Buffer.from(ch))
      })
      if (i >= warmup) out.push(performance.now() - t)
    }
    return out
  }
  return { onOutput, run }
}

const server = await startServer({
  CLAWPORT_RATE_LIMIT_PER_MIN: '1000000',
  CLAWPORT_GATEWAY: 'off',
  CLAWPORT_POOL_SIZE: '0',
})
try {
  const { id } = await server.readyInstance()

  const pty = spawnPty('/bin/bash', ['--norc', '--noprofile'], {
    cols: 200,
    rows: 50,
    env: { TERM: 'xterm-256color', PATH: '/usr/bin:/bin' },
  })
  const local = echoer((b) => pty.write(b.toString()))
  pty.onData((d) => local.onOutput(d))
  await sleep(300)

  const url = `${server.url.replace(/^http/, 'ws')}/api/instances/${id}/terminal/ws?cols=200&rows=50`
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${server.adminKey}` },
    perMessageDeflate: false,
  })
  const remote = echoer((b) => ws.send(b, { binary: true }))
  ws.on('message', (d: Buffer, isBinary) => {
    if (isBinary) remote.onOutput(d.toString('utf8'))
  })
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  await sleep(500) // the login shell's prompt

  const base = summarize(await local.run(N))
  const api = summarize(await remote.run(N))
  console.log(`terminal keystroke echo, ${N} keystrokes each (target: WebSocket p50 <= 3 ms)`)
  console.log(line('baseline: bash in a local PTY', base))
  console.log(line('WebSocket: /terminal/ws, sandboxed', api))
  console.log(
    `added p50: ${(api.p50 - base.p50).toFixed(2)} ms; added p99: ${(api.p99 - base.p99).toFixed(2)} ms`,
  )
  ws.close()
  pty.kill()
} finally {
  await server.destroy()
}
