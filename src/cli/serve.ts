import { Fleet } from '../core/fleet.js'
import { createServices } from '../core/services.js'
import { buildApp } from '../http/app.js'
import { createLogger } from '../log.js'
import { COMMON_OPTIONS, configFrom, parseFlags } from './args.js'
import { bootstrapAdmin } from './bootstrap.js'
import { DataFolderLockedError, lockDataFolder } from './data-lock.js'

/** How long a stop may take (closing connections, streams, the store) before it is forced. */
const SHUTDOWN_TIMEOUT_MS = 10_000

const HELP = `Usage: clawport serve [--port 8080] [--host 127.0.0.1] [--data-dir ./.clawport]
                      [--stop-instances-on-exit]

Runs the API server. Instances keep running when it stops; the next start re-adopts them.
With --stop-instances-on-exit, a SIGTERM or SIGINT stops every instance first (the next start
leaves them stopped). One server serves a data folder at a time.`

/** How long stopping every instance may take, with --stop-instances-on-exit. */
const STOP_INSTANCES_TIMEOUT_MS = 120_000

/** `clawport serve`: open the store, adopt running instances, listen. */
export async function serve(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    ...COMMON_OPTIONS,
    port: { type: 'string' },
    host: { type: 'string' },
    'stop-instances-on-exit': { type: 'boolean' },
  })
  if (values.help) {
    process.stdout.write(`${HELP}\n`)
    return 0
  }
  const config = configFrom(values)
  const log = createLogger(config.logLevel)
  try {
    // The embedded SQLite store has one server per data folder; replicas on PostgreSQL share
    // the host's folder and coordinate through leases instead.
    if (config.store.kind === 'sqlite') lockDataFolder(config.dataDir)
  } catch (err) {
    if (!(err instanceof DataFolderLockedError)) throw err
    process.stderr.write(`clawport: ${err.message}\n`)
    return 1
  }
  const services = await createServices(config, log, { withDriver: true })
  for (const note of services.capabilities?.notes ?? []) log.warn({ note }, 'sandbox capability')
  const first = await bootstrapAdmin(services)
  await services.instances.recover()
  services.instances.startMonitor()
  services.audit.startRetention()
  await services.pool.start()
  const app = await buildApp(services, log)
  let address: string
  try {
    address = await app.listen({ port: config.http.port, host: config.http.host })
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    process.stderr.write(`clawport: cannot listen on ${config.http.host}:${config.http.port}: ${reason}\n`)
    log.error({ err }, 'cannot listen')
    await Promise.race([services.close(), new Promise((r) => setTimeout(r, SHUTDOWN_TIMEOUT_MS))])
    // Timers of the pool and the monitor would keep a server that serves nothing alive.
    process.exit(1)
  }
  const base = config.http.publicUrl ?? address
  const lines = [`clawport ${address} ready (data: ${config.dataDir})`]
  if (first) {
    lines.push(
      `first start: created the administrator ${first.email}`,
      `dashboard: ${base}/account`,
      'the API key below is shown this once; keep it:',
      first.key,
    )
  }
  process.stdout.write(`${lines.join('\n')}\n`)

  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    const stopInstances = values['stop-instances-on-exit'] === true
    log.info(
      { signal },
      stopInstances ? 'shutting down; stopping every instance' : 'shutting down; instances keep running',
    )
    const waiting = new Set([...(stopInstances ? ['instances'] : []), 'connections', 'services'])
    const timeoutMs = SHUTDOWN_TIMEOUT_MS + (stopInstances ? STOP_INSTANCES_TIMEOUT_MS : 0)
    const forced = setTimeout(() => {
      log.warn({ waitedFor: [...waiting], timeoutMs }, 'shutdown took too long; exiting')
      process.exit(1)
    }, timeoutMs)
    forced.unref()
    if (stopInstances) {
      // Before the connections close: a stop still answers streams and sockets while it runs.
      const outcomes = await new Fleet(services.store, services.instances, log).stopAll()
      const failed = outcomes.filter((o) => o.error)
      if (failed.length) log.warn({ failed }, 'some instances did not stop')
      log.info({ stopped: outcomes.length - failed.length }, 'instances stopped')
      waiting.delete('instances')
    }
    await app.close()
    waiting.delete('connections')
    await services.close()
    waiting.delete('services')
    process.exit(0)
  }
  process.once('SIGINT', () => void shutdown('SIGINT'))
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  return await new Promise<number>(() => {})
}
