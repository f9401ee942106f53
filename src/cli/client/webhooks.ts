import { UsageError } from '../args.js'
import { readSse } from './http.js'
import type { Ctx } from './index.js'

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
export async function run(ctx: Ctx): Promise<number | undefined> {
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

/** `clawport instances events <id> [--follow] [--after CURSOR]`: the status history, or followed live. */
export async function events(ctx: Ctx, id: string): Promise<number | undefined> {
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
