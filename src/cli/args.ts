import { parseArgs } from 'node:util'
import { type Config, ConfigError, loadConfig } from '../config.js'

/** Thrown for a command line that cannot be run; printed without a stack. */
export class UsageError extends Error {}

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options']

export const COMMON_OPTIONS = {
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options

/** Parses flags strictly, turning unknown flags into a readable usage error. */
export function parseFlags<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** The config from the environment, with command-line flags taking precedence. */
export function configFrom(
  flags: {
    'data-dir'?: string | boolean
    port?: string | boolean
    host?: string | boolean
  },
  opts: { sealsSecrets?: boolean } = {},
): Config {
  const env = { ...process.env }
  if (typeof flags['data-dir'] === 'string') env.CLAWPORT_DATA_DIR = flags['data-dir']
  if (typeof flags.port === 'string') env.CLAWPORT_PORT = flags.port
  if (typeof flags.host === 'string') env.CLAWPORT_HOST = flags.host
  try {
    return loadConfig(env, {}, opts)
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message)
    throw err
  }
}
