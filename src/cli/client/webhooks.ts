import { UsageError } from '../args.js'
import type { Command, Ctx } from './command.js'
import { readSse } from './http.js'

const OPTIONS = {
  url: { type: 'string' },
  events: { type: 'string' },
  limit: { type: 'string' },
} as const

/** The flags of `clawport instances events`. */
export const EVENTS_OPTIONS = {
  follow: { type: 'boolean', short: 'f' },
  after: { type: 'string' },
  limit: { type: 'string' },
} as const

interface Webhook {
  id: string
  url: string
  events: string[]
  secret?: string
}

interface LifecycleEvent {
  cursor: number
  type: string
  reason: string | null
  created_at: string
}

const hookRow = (w: Webhook) => `${w.id}  ${w.events.join(',').padEnd(24)}  ${w.url}`
const eventRow = (e: LifecycleEvent) => `${e.created_at}  ${e.type.padEnd(24)}  ${e.reason ?? ''}`

/** `clawport webhooks [list|create|delete|deliveries] ...` */
async function run(ctx: Ctx<typeof OPTIONS>): Promise<number | undefined> {
  const { api, flags } = ctx
  const [action = 'list', arg] = ctx.args
  switch (action) {
    case 'list':
    case 'ls': {
      const list = await api.json<Webhook[]>('GET', '/webhooks')
      ctx.out(list, (l: Webhook[]) => (l.length ? l.map(hookRow).join('\n') : 'no webhooks'))
      return
    }
    case 'create': {
      const url = arg ?? flags.url
      if (!url)
        throw new UsageError('name the URL: clawport webhooks create <url> [--events crashed,oom_killed]')
      const events = flags.events ? flags.events.split(',').map((e) => e.trim()) : undefined
      const hook = await api.json<Webhook>('POST', '/webhooks', {
        body: { url, ...(events ? { events } : {}) },
      })
      ctx.out(hook, (w: Webhook) => `${hookRow(w)}\nsecret (shown once, keep it): ${w.secret}`)
      return
    }
    case 'delete':
    case 'rm': {
      if (!arg) throw new UsageError('name the webhook: clawport webhooks delete <id>')
      await api.json('DELETE', `/webhooks/${arg}`)
      ctx.out({ id: arg, deleted: true }, () => `deleted ${arg}`)
      return
    }
    case 'deliveries': {
      if (!arg) throw new UsageError('name the webhook: clawport webhooks deliveries <id>')
      const list = await api.json<Array<Record<string, unknown>>>('GET', `/webhooks/${arg}/deliveries`, {
        query: { limit: flags.limit },
      })
      ctx.out(list, (l: Array<Record<string, unknown>>) =>
        l
          .map(
            (d) =>
              `${d.created_at}  ${String(d.event_type).padEnd(24)}  ${d.status} x${d.attempts}  ${d.last_error ?? d.last_status ?? ''}`,
          )
          .join('\n'),
      )
      return
    }
    default:
      throw new UsageError(`unknown webhooks action "${action}"`)
  }
}

export const command: Command<typeof OPTIONS> = {
  usage: '  clawport webhooks [list|create <url> [--events a,b]|delete <id>|deliveries <id>]',
  options: OPTIONS,
  run,
}

/** `clawport instances events <id> [--follow] [--after CURSOR]`: the status history, or followed live. */
export async function events(ctx: Ctx<typeof EVENTS_OPTIONS>, id: string): Promise<number | undefined> {
  const after = ctx.flags.after ?? '0'
  if (!ctx.flags.follow) {
    const list = await ctx.api.json<LifecycleEvent[]>('GET', `/instances/${id}/events`, {
      query: { after, limit: ctx.flags.limit },
    })
    ctx.out(list, (l: LifecycleEvent[]) => (l.length ? l.map(eventRow).join('\n') : 'no events'))
    return
  }
  const res = await ctx.api.fetch('GET', `/instances/${id}/events`, {
    query: { after },
    headers: { accept: 'text/event-stream' },
  })
  for await (const e of readSse(res)) ctx.out(e.data, eventRow)
  return
}
