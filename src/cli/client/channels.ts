import { UsageError } from '../args.js'
import type { Command, Ctx } from './command.js'

const OPTIONS = {
  token: { type: 'string' },
  'dm-policy': { type: 'string' },
  'allow-from': { type: 'string' },
  'group-policy': { type: 'string' },
  groups: { type: 'string' },
  'require-mention': { type: 'string' },
} as const

interface Channel {
  name: string
  state: string
  reason: string | null
  token_set: boolean
  pending_pairings: number
  settings: Record<string, unknown>
}

interface PairingRequest {
  request_id: string
  sender_id: string
  metadata: Record<string, string>
  expires_at: string
}

const channelRow = (c: Channel) =>
  `${c.name.padEnd(10)} ${c.state.padEnd(16)} ${c.pending_pairings ? `${c.pending_pairings} pairing  ` : ''}${c.reason ?? ''}`
const requestRow = (r: PairingRequest) =>
  `${r.request_id}  ${r.sender_id.padEnd(14)} ${Object.values(r.metadata).join(' ')}  expires ${r.expires_at}`
const list =
  <T>(f: (x: T) => string, none: string) =>
  (l: T[]) =>
    l.length ? l.map(f).join('\n') : none

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8').trim()
}

const csv = (v: string | undefined) => (v === undefined ? undefined : v.split(',').filter(Boolean))

/** The settings from the flags; `--token -` reads the token from stdin (kept out of ps and history). */
async function settingsFrom(ctx: Ctx<typeof OPTIONS>): Promise<Record<string, unknown>> {
  const f = ctx.flags
  const token = f.token === '-' ? await readStdin() : f.token
  const body: Record<string, unknown> = {
    ...(token ? { bot_token: token } : {}),
    ...(f['dm-policy'] ? { dm_policy: f['dm-policy'] } : {}),
    ...(f['allow-from'] !== undefined ? { allow_from: csv(f['allow-from']) } : {}),
    ...(f['group-policy'] ? { group_policy: f['group-policy'] } : {}),
    ...(f.groups !== undefined ? { groups: csv(f.groups) } : {}),
    ...(f['require-mention'] !== undefined ? { require_mention: f['require-mention'] !== 'false' } : {}),
  }
  return body
}

/** `clawport channels [list|get|set|delete|pairing|approve|dismiss] ...` on the instance's OpenClaw. */
async function run(ctx: Ctx<typeof OPTIONS>): Promise<number | undefined> {
  const { api } = ctx
  const [action = 'list', name, requestId] = ctx.args
  const id = await api.instanceId(ctx.flags.instance)
  const base = `/instances/${id}/channels`
  const need = (what: string, value: string | undefined) => {
    if (!value) throw new UsageError(`name the ${what}: clawport channels ${action} <${what}>`)
    return value
  }
  switch (action) {
    case 'list':
    case 'ls':
      ctx.out(await api.json<Channel[]>('GET', base), list(channelRow, 'no channels'))
      return
    case 'get':
      ctx.out(await api.json<Channel>('GET', `${base}/${need('channel', name)}`), channelRow)
      return
    case 'set': {
      const channel = await api.json<Channel>('PUT', `${base}/${need('channel', name)}`, {
        body: await settingsFrom(ctx),
      })
      ctx.out(channel, (c: Channel) => `${channelRow(c)}\n(applies at the instance's next start: reboot it)`)
      return
    }
    case 'delete':
    case 'rm':
      await api.json('DELETE', `${base}/${need('channel', name)}`)
      ctx.out({ name, deleted: true }, () => `deleted ${name}`)
      return
    case 'pairing': {
      const requests = await api.json<PairingRequest[]>('GET', `${base}/${need('channel', name)}/pairing`)
      ctx.out(requests, list(requestRow, 'no pairing requests waiting'))
      return
    }
    case 'approve':
    case 'dismiss': {
      const url = `${base}/${need('channel', name)}/pairing/${need('request', requestId)}/${action}`
      await api.json('POST', url)
      ctx.out(
        { request_id: requestId, [action === 'approve' ? 'approved' : 'dismissed']: true },
        () => `${action}d ${requestId}`,
      )
      return
    }
    default:
      throw new UsageError(`unknown channels action "${action}"`)
  }
}

export const command: Command<typeof OPTIONS> = {
  usage: `  clawport channels [list|get <name>|delete <name>]   the instance's chat channels and their state
  clawport channels set telegram --token T|- [--dm-policy pairing|allowlist|open|disabled] [--allow-from ids]
                    [--group-policy P] [--groups ids] [--require-mention true|false]   applies at the next start
  clawport channels pairing telegram | approve|dismiss telegram <request-id>   DM pairing requests`,
  options: OPTIONS,
  run,
}
