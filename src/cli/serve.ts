import { createServices } from '../core/services.js'
import { buildApp } from '../http/app.js'
import { createLogger } from '../log.js'
import { COMMON_OPTIONS, configFrom, parseFlags } from './args.js'
import { bootstrapAdmin } from './bootstrap.js'
import { DataFolderLockedError, lockDataFolder } from './data-lock.js'

/** How long a stop may take (closing connections, streams, the store) before it is forced. */
const SHUTDOWN_TIMEOUT_MS = 10_000

const HELP = `Usage: clawport serve [--port 8080] [--host 127.0.0.1] [--data-dir ./.clawport]

Runs the API server. Instances keep running when it stops; the next start re-adopts them.
One server serves a data folder at a time.`

/** `clawport serve`: open the store, adopt running instances, listen. */
export async function serve(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    ...COMMON_OPTIONS,
    port: { type: 'string' },
    host: { type: 'string' },
  })
  if (values.help) {
    process.stdout.write(`${HELP}\n`)
    return 0
  }
  const config = configFrom(values)
  const log = createLogger(config.logLevel)
  try {
    lockDataFolder(config.dataDir)
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
    address = await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    process.stderr.write(`clawport: cannot listen on ${config.host}:${config.port}: ${reason}\n`)
    log.error({ err }, 'cannot listen')
    await Promise.race([services.close(), new Promise((r) => setTimeout(r, SHUTDOWN_TIMEOUT_MS))])
    // Timers of the pool and the monitor would keep a server that serves nothing alive.
    process.exit(1)
  }
  const base = config.publicUrl ?? address
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
    log.info({ signal }, 'shutting down; instances keep running')
    const waiting = new Set(['connections', 'services'])
    const forced = setTimeout(() => {
      log.warn({ waitedFor: [...waiting], timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown took too long; exiting')
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS)
    forced.unref()
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
