import type { FleetOutcome } from '../../core/fleet.js'
import { UsageError } from '../args.js'
import type { Ctx } from './command.js'

/** The flags of `clawport instances stop|start --all`. */
export const FLEET_OPTIONS = {
  all: { type: 'boolean' },
  'data-dir': { type: 'string' },
} as const

interface FleetAnswer {
  instances: FleetOutcome[]
  done: number
  failed: number
}

function human(a: FleetAnswer, verb: string): string {
  const lines = a.instances.map(
    (i) => `${i.id}  ${i.from.padEnd(12)} -> ${i.status.padEnd(12)}${i.error ? `  ${i.error}` : ''}`,
  )
  lines.push(`${verb} ${a.done} of ${a.instances.length}${a.failed ? `; ${a.failed} failed` : ''}`)
  return lines.join('\n')
}

/**
 * `clawport instances stop|start --all`: through a server (an administrator's key), or, for
 * stop, straight on a data folder that no server holds (`--data-dir`).
 */
export async function runAll(ctx: Ctx<typeof FLEET_OPTIONS>, action: 'stop' | 'start'): Promise<number> {
  const verb = action === 'stop' ? 'stopped' : 'started'
  const dataDir = ctx.flags['data-dir']
  const answer = dataDir
    ? await onFolder(dataDir, action)
    : await ctx.api.json<FleetAnswer>('POST', `/admin/instances/${action}-all`)
  ctx.out(answer, (a: FleetAnswer) => human(a, verb))
  return answer.failed ? 1 : 0
}

async function onFolder(dataDir: string, action: 'stop' | 'start'): Promise<FleetAnswer> {
  if (action === 'start')
    throw new UsageError(
      'start --all needs a running server (instances reach their model through it): start `clawport serve`, then run this with --base-url and an administrator key',
    )
  const { DataFolderLockedError, lockDataFolder } = await import('../data-lock.js')
  const { configFrom } = await import('../args.js')
  const config = configFrom({ 'data-dir': dataDir })
  let release: () => void
  try {
    release = lockDataFolder(config.dataDir)
  } catch (err) {
    if (!(err instanceof DataFolderLockedError)) throw err
    throw new UsageError(
      `${err.message.replace(/; stop it first.*$/, '')}: run this against it instead (--base-url URL and an administrator's --api-key)`,
    )
  }
  try {
    const { createLogger } = await import('../../log.js')
    const { createServices } = await import('../../core/services.js')
    const { Fleet } = await import('../../core/fleet.js')
    const log = createLogger(process.env.CLAWPORT_LOG_LEVEL ?? 'warn')
    const services = await createServices(config, log, { withDriver: true })
    try {
      const instances = await new Fleet(services.store, services.instances, log).stopAll()
      const failed = instances.filter((i) => i.error).length
      return { instances, done: instances.length - failed, failed }
    } finally {
      await services.close()
    }
  } finally {
    release()
  }
}
