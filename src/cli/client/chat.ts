import { UsageError } from '../args.js'
import type { Command, Ctx } from './command.js'
import { ClientError, readSse } from './http.js'

const OPTIONS = {
  session: { type: 'string', short: 's' },
  'no-stream': { type: 'boolean' },
  title: { type: 'string' },
  limit: { type: 'string' },
} as const

interface Message {
  seq: number
  role: string
  content: string
  tool?: { name: string }
}

const line = (m: Message) => `${m.role}${m.tool ? ` (${m.tool.name})` : ''}: ${m.content}`

/** Streams a turn: text to stdout as it comes, tool calls to stderr; NDJSON events with --json. */
async function stream(ctx: Ctx<typeof OPTIONS>, id: string, body: Record<string, string>): Promise<number> {
  const res = await ctx.api.fetch('POST', `/instances/${id}/chat/stream`, { body })
  let failed: { message: string; code: string } | undefined
  let text = false
  for await (const e of readSse(res)) {
    if (ctx.flags.json) process.stdout.write(`${JSON.stringify(e)}\n`)
    else if (e.event === 'delta') {
      process.stdout.write(String(e.data.text ?? ''))
      text = true
    } else if (e.event === 'tool') process.stderr.write(`\n[tool ${e.data.name}: ${e.data.status}]\n`)
    if (e.event === 'error') failed = e.data
  }
  if (text && !ctx.flags.json) process.stdout.write('\n')
  if (failed) throw new ClientError(502, `the turn failed (${failed.code}): ${failed.message}`, failed.code)
  return 0
}

/** `clawport chat send|sessions|history` */
async function run(ctx: Ctx<typeof OPTIONS>): Promise<number | undefined> {
  const { api, flags } = ctx
  const [action, ...rest] = ctx.args
  const id = await api.instanceId(flags.instance)
  switch (action) {
    case 'send': {
      const message = rest.join(' ')
      if (!message.trim()) throw new UsageError('give the message: clawport chat send "hello"')
      const body = { message, ...(flags.session ? { session_id: flags.session } : {}) }
      if (!flags['no-stream']) return stream(ctx, id, body)
      const turn = await api.json<{ message: Message }>('POST', `/instances/${id}/chat`, { body })
      ctx.out(turn, (t) => t.message.content)
      return
    }
    case 'sessions': {
      if (rest[0] === 'new') {
        const s = await api.json('POST', `/instances/${id}/chat/sessions`, {
          body: flags.title ? { title: flags.title } : {},
        })
        ctx.out(s, (v) => v.id)
        return
      }
      const list = await api.json<Array<{ id: string; title: string | null; last_activity: string }>>(
        'GET',
        `/instances/${id}/chat/sessions`,
      )
      ctx.out(list, (l: typeof list) =>
        l.map((s) => `${s.id}  ${s.last_activity}  ${s.title ?? ''}`).join('\n'),
      )
      return
    }
    case 'history': {
      const list = await api.json<Message[]>('GET', `/instances/${id}/chat/messages`, {
        query: { tail: true, limit: flags.limit ?? 20, session_id: flags.session },
      })
      ctx.out(list, (l: Message[]) => l.map(line).join('\n'))
      return
    }
    default:
      throw new UsageError('clawport chat send <message> | sessions [new] | history')
  }
}

export const command: Command<typeof OPTIONS> = {
  usage: `  clawport chat send <message> [--session S] [--no-stream]
  clawport chat sessions [new --title T]
  clawport chat history [--session S] [--limit N]`,
  options: OPTIONS,
  run,
}
