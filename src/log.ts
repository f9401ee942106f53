import { pino } from 'pino'

export type Logger = pino.Logger

/** The root logger: JSON lines, with secrets redacted wherever they might appear. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.key', 'key', 'password'],
        censor: '[redacted]',
      },
    },
    destination,
  )
}
