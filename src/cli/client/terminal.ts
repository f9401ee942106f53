import WebSocket from 'ws'
import { UsageError } from '../args.js'
import type { Command, Ctx } from './command.js'
import { ClientError } from './http.js'

const OPTIONS = { session: { type: 'string', short: 's' } } as const

/** Ctrl-] detaches, as in telnet: the session keeps running on the instance. */
const DETACH = 0x1d

/**
 * `clawport terminal attach`: puts this terminal into the instance's shell over the terminal
 * WebSocket (raw mode, resizes forwarded). Exits with the shell's code, or 0 on detach.
 */
async function run(ctx: Ctx<typeof OPTIONS>): Promise<number> {
  if (ctx.args[0] !== 'attach') throw new UsageError('clawport terminal attach [--session S]')
  const id = await ctx.api.instanceId(ctx.flags.instance)
  const out = process.stdout
  const url = ctx.api
    .url(`/instances/${id}/terminal/ws`, {
      cols: out.columns ?? 80,
      rows: out.rows ?? 24,
      session_id: ctx.flags.session,
    })
    .replace(/^http/, 'ws')
  const ws = new WebSocket(url, { headers: ctx.api.headers() })
  const stdin = process.stdin
  let sessionId = ctx.flags.session
  let exitCode: number | undefined
  let detached = false

  // At once: frames that arrive with the 101 answer (a reattach's replay) come before 'open'.
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) {
      out.write(data)
      return
    }
    const msg = JSON.parse(data.toString('utf8')) as { type: string; session_id?: string; code?: number }
    if (msg.type === 'ready') sessionId = msg.session_id
    else if (msg.type === 'exit') exitCode = msg.code ?? 0
  })
  const refused = new Promise<never>((_, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (c: Buffer) => {
        text += c.toString()
      })
      res.on('end', () => {
        let message = text
        try {
          message = JSON.parse(text).message
        } catch {}
        reject(new ClientError(res.statusCode ?? 0, message))
      })
    })
    ws.once('error', (err) => reject(new ClientError(0, `terminal connection failed: ${err.message}`)))
  })
  await Promise.race([new Promise((r) => ws.once('open', r)), refused])

  const onInput = (chunk: Buffer) => {
    if (chunk.includes(DETACH)) {
      detached = true
      ws.close(1000, 'detached')
      return
    }
    ws.send(chunk)
  }
  const onResize = () => ws.send(JSON.stringify({ type: 'resize', cols: out.columns, rows: out.rows }))
  if (stdin.isTTY) stdin.setRawMode(true)
  stdin.on('data', onInput)
  stdin.resume()
  out.on('resize', onResize)

  const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  stdin.off('data', onInput)
  out.off('resize', onResize)
  if (stdin.isTTY) stdin.setRawMode(false)
  stdin.pause()
  if (detached) {
    process.stderr.write(`\r\n[detached; reattach with: clawport terminal attach --session ${sessionId}]\r\n`)
    return 0
  }
  if (exitCode !== undefined) return exitCode
  process.stderr.write(`\r\n[connection closed: ${closed.code} ${closed.reason}]\r\n`)
  return 1
}

export const command: Command<typeof OPTIONS> = {
  usage: '  clawport terminal attach [--session S]  an interactive shell; Ctrl-] detaches',
  options: OPTIONS,
  run,
}
