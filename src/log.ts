import { pino } from 'pino'
import { prettyStream } from './log-pretty.js'

export type Logger = pino.Logger

/** Field names that hold a secret wherever they appear in a logged object. */
const SECRET_FIELDS = [
  'apiKey',
  'api_key',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'password',
  'secret',
  'client_secret',
  'key',
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
]

/** How many levels below the top a secret field is looked for (pino redacts exact paths). */
const REDACT_DEPTH = 4

/** Every redaction path: each secret field at the top and under up to REDACT_DEPTH wildcards. */
export const REDACT_PATHS: string[] = SECRET_FIELDS.flatMap((field) => {
  const plain = /^[A-Za-z_]\w*$/.test(field)
  const paths = [plain ? field : `["${field}"]`]
  for (let depth = 1; depth <= REDACT_DEPTH; depth++) {
    const stars = Array(depth).fill('*').join('.')
    paths.push(plain ? `${stars}.${field}` : `${stars}["${field}"]`)
  }
  return paths
})

export interface LoggerOptions {
  /** Human-readable lines instead of JSON; by default when stdout is a terminal. */
  pretty?: boolean
}

/** The root logger: JSON lines (readable ones on a terminal), with secrets redacted wherever they appear. */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  opts: LoggerOptions = {},
): Logger {
  const pretty = opts.pretty ?? (destination === undefined && process.stdout.isTTY === true)
  const out = pretty ? prettyStream(destination ?? process.stdout) : destination
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, out)
}
