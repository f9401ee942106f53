import os from 'node:os'
import { createLogger } from '../log.js'
import { Runner } from '../runner/runner.js'
import { COMMON_OPTIONS, configFrom, parseFlags, UsageError } from './args.js'
import { DataFolderLockedError, lockDataFolder } from './data-lock.js'

const HELP = `Usage: clawport runner --server URL [--token T] [--name NAME]
                       [--listen 0.0.0.0:7443] [--advertise https://ADDRESS:7443]
                       [--data-dir ./.clawport-runner] [--memory-mb N] [--max-instances N]

Runs instances on this host for the control plane sharing CLAWPORT_DATABASE_URL: registers
this host as a runner (its name, endpoint, capacity and CLAWPORT_RUNNER_LABELS), claims the
lifecycle jobs of its instances, and serves their clawlets to every replica on one HTTPS
endpoint with its own pinned certificate. --server is where instances' own calls (their model,
their scoped API) reach the control plane. The token (or CLAWPORT_RUNNER_TOKEN) is the secret
the control plane and every runner share. Instances keep running when the runner stops or
loses the database; the next start re-adopts them.`

/** `clawport runner`: serve this host's instances to the control plane. */
export async function runner(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    ...COMMON_OPTIONS,
    server: { type: 'string' },
    token: { type: 'string' },
    name: { type: 'string' },
    listen: { type: 'string' },
    advertise: { type: 'string' },
    'memory-mb': { type: 'string' },
    'max-instances': { type: 'string' },
  })
  if (values.help) {
    process.stdout.write(`${HELP}\n`)
    return 0
  }
  if (!values.server) throw new UsageError('--server is required: the control plane URL instances call back')
  let server: URL
  try {
    server = new URL(values.server)
  } catch {
    throw new UsageError(`--server ${values.server} is not a URL`)
  }
  if (server.protocol !== 'http:' && server.protocol !== 'https:')
    throw new UsageError('--server must be an http:// or https:// URL')
  // A runner's own folder by default, apart from a server's on the same host.
  process.env.CLAWPORT_DATA_DIR ??= './.clawport-runner'
  const config = configFrom(values, { sealsSecrets: false })
  const token = values.token ?? config.fleet.runnerToken ?? ''
  const listen = parseListen(values.listen ?? '0.0.0.0:7443')
  const name = values.name ?? os.hostname()
  const advertise =
    values.advertise ?? `https://${listen.host === '0.0.0.0' ? os.hostname() : listen.host}:${listen.port}`
  if (!/^https:\/\/[^/]+$/.test(advertise)) throw new UsageError('--advertise must be https://HOST:PORT')
  const log = createLogger(config.logLevel).child({ runner: name })
  try {
    lockDataFolder(config.dataDir)
  } catch (err) {
    if (!(err instanceof DataFolderLockedError)) throw err
    process.stderr.write(`clawport: ${err.message}\n`)
    return 1
  }
  const r = new Runner(
    config,
    {
      server,
      token,
      name,
      listen,
      advertise,
      memoryMb: positive(values['memory-mb'], '--memory-mb'),
      maxInstances: positive(values['max-instances'], '--max-instances'),
    },
    log,
  )
  let started: Awaited<ReturnType<Runner['start']>>
  try {
    started = await r.start()
  } catch (err) {
    process.stderr.write(`clawport runner: ${err instanceof Error ? err.message : String(err)}\n`)
    await r.close().catch(() => {})
    return 1
  }
  process.stdout.write(
    `clawport runner ${started.name} ready (id ${started.id}, endpoint ${started.address}, ` +
      `${started.adopted} running instances adopted, ${started.requeued} unfinished jobs resumed)\n`,
  )
  const stop = (signal: string) => {
    log.info({ signal }, 'runner stopping; instances keep running')
    const forced = setTimeout(() => process.exit(1), 10_000)
    forced.unref()
    void r.close().finally(() => process.exit(0))
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
  return await new Promise<number>(() => {})
}

function parseListen(raw: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(raw)
  const port = Number(m?.[2])
  if (!m || port < 1 || port > 65535) throw new UsageError(`--listen ${raw}: use HOST:PORT`)
  return { host: (m[1] as string).replace(/^\[(.*)\]$/, '$1'), port }
}

function positive(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive whole number`)
  return n
}
