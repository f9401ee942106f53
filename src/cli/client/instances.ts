import { UsageError } from '../args.js'
import type { Command, Ctx } from './command.js'
import { FLEET_OPTIONS, runAll } from './fleet.js'
import { LOGS_OPTIONS, logs, metrics } from './logs.js'
import { EVENTS_OPTIONS, events } from './webhooks.js'

interface Instance {
  id: string
  status: string
  name?: string | null
  created_at: string
  error?: string | null
}

const NETWORKS = ['public', 'allowlist', 'off']

const OPTIONS = {
  wait: { type: 'boolean' },
  name: { type: 'string' },
  'invite-code': { type: 'string' },
  network: { type: 'string' },
  'allow-hosts': { type: 'string' },
  ...FLEET_OPTIONS,
  ...EVENTS_OPTIONS,
  ...LOGS_OPTIONS,
} as const

/**
 * The --network flag, checked here so that a typo is a usage error rather than a 422, and
 * --allow-hosts (comma-separated; "" for none), checked by the server.
 */
function networkFlag(
  value: string | undefined,
  hosts?: string,
): { network?: string; allowed_hosts?: string[] } {
  if (value !== undefined && !NETWORKS.includes(value))
    throw new UsageError(`--network is public, allowlist or off, not "${value}"`)
  const list = hosts?.split(',').map((h) => h.trim())
  return {
    ...(value === undefined ? {} : { network: value }),
    ...(list === undefined ? {} : { allowed_hosts: list.filter(Boolean) }),
  }
}

const row = (i: Instance) => `${i.id}  ${i.status.padEnd(12)}  ${i.name ?? ''}`

/** Waits until the instance is ready (or failed). */
export async function waitReady(ctx: Ctx, id: string, timeoutMs = 600_000): Promise<Instance> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const inst = await ctx.api.json<Instance>('GET', `/instances/${id}`)
    if (inst.status === 'ready') return inst
    if (inst.status === 'error') throw new UsageError(`instance ${id} failed: ${inst.error ?? 'error'}`)
    if (Date.now() > deadline) throw new UsageError(`instance ${id} is still ${inst.status}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** `clawport instances [list|create|get|update|delete|reboot|shutdown|start|sleep|wake|events|logs|metrics] [id]` */
async function run(ctx: Ctx<typeof OPTIONS>): Promise<number | undefined> {
  const { api, flags } = ctx
  const [action = 'list', idArg] = ctx.args
  const id = async () => api.instanceId(idArg ?? flags.instance)
  switch (action) {
    case 'list':
    case 'ls': {
      const list = await api.json<Instance[]>('GET', '/instances')
      ctx.out(list, (l: Instance[]) => (l.length ? l.map(row).join('\n') : 'no instances'))
      return
    }
    case 'create': {
      const body = {
        ...(flags.name ? { name: flags.name } : {}),
        ...(flags['invite-code'] ? { invite_code: flags['invite-code'] } : {}),
        ...networkFlag(flags.network, flags['allow-hosts']),
      }
      let inst = await api.json<Instance>('POST', '/instances', { body })
      if (flags.wait) inst = await waitReady(ctx, inst.id)
      ctx.out(inst, row)
      return
    }
    case 'get':
    case 'status': {
      const i = await id()
      ctx.out(await api.json('GET', action === 'get' ? `/instances/${i}` : `/instances/${i}/status`), (v) =>
        JSON.stringify(v, null, 2),
      )
      return
    }
    case 'update': {
      if (flags.network === undefined && flags['allow-hosts'] === undefined)
        throw new UsageError('say what to change: --network public|allowlist|off, --allow-hosts a.com,b.com')
      const body = networkFlag(flags.network, flags['allow-hosts'])
      ctx.out(await api.json<Instance>('PATCH', `/instances/${await id()}`, { body }), row)
      return
    }
    case 'delete':
    case 'rm': {
      const i = idArg ?? flags.instance
      if (!i) throw new UsageError('name the instance to delete: clawport instances delete <id>')
      await api.json('DELETE', `/instances/${i}`)
      ctx.out({ id: i, deleted: true }, () => `deleted ${i}`)
      return
    }
    case 'stop':
    case 'reboot':
    case 'shutdown':
    case 'start': {
      if (flags.all && action !== 'reboot') return runAll(ctx, action === 'start' ? 'start' : 'stop')
      if (action === 'stop') return run({ ...ctx, args: ['shutdown', ...ctx.args.slice(1)] })
      let inst = await api.json<Instance>('POST', `/instances/${await id()}/${action}`)
      if (flags.wait && action !== 'shutdown') inst = await waitReady(ctx, inst.id)
      ctx.out(inst, row)
      return
    }
    case 'sleep':
    case 'wake': {
      let inst = await api.json<Instance>('POST', `/instances/${await id()}/${action}`)
      if (flags.wait && action === 'wake') inst = await waitReady(ctx, inst.id)
      ctx.out(inst, row)
      return
    }
    case 'events':
      return events(ctx, await id())
    case 'logs':
      return logs(ctx, await id())
    case 'metrics':
      return metrics(ctx, await id())
    default:
      throw new UsageError(`unknown instances action "${action}"`)
  }
}

export const command: Command<typeof OPTIONS> = {
  usage: `  clawport instances [list|create|get|delete|reboot|shutdown|start] [id] [--wait] [--name N] [--invite-code C]
                    [--network public|allowlist|off] [--allow-hosts pypi.org,*.example.com]
  clawport instances update <id> [--network public|allowlist|off] [--allow-hosts H,H]
                                        while stopped; applies at the next start
  clawport instances sleep|wake <id> [--wait]            stop its agent and desktop until needed; wake it
  clawport instances stop|start --all     every user's instances (an administrator's key), or with
                                          --data-dir D and no server running, stop those of a folder
  clawport instances events <id> [--follow] [--after C]   status history with reasons (crashes, OOM kills)
  clawport instances logs <id> [--source boot|clawlet|gateway|desktop] [--tail N] [--follow]
  clawport instances metrics <id>         CPU, memory, disk, processes, network and gateway right now`,
  options: OPTIONS,
  run,
}
