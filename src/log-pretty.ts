import { Writable } from 'node:stream'

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
}
const COLOURS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[41m' }
const RESET = '\x1b[0m'
/** Keys every line has, shown in the line's head instead of as key=value. */
const HEAD_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component', 'err'])

/** Where pretty lines go: a stream or pino's own destination (both have write). */
export interface LineSink {
  write(line: string): unknown
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value) ?? String(value)
}

/** One pino JSON line as `12:00:01 INFO  [http] msg key=value`, with an error's stack below. */
export function prettyLine(json: string, colour: boolean): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`
  }
  const level = Number(entry.level)
  const time = new Date(Number(entry.time)).toISOString().slice(11, 23)
  const name = LEVELS[level] ?? String(entry.level)
  const tint = colour ? COLOURS[level] : undefined
  const head = `${time} ${tint ? `${tint}${name}${RESET}` : name}${entry.component ? ` [${entry.component}]` : ''}`
  const rest = Object.entries(entry)
    .filter(([k]) => !HEAD_KEYS.has(k))
    .map(([k, v]) => `${k}=${formatValue(v)}`)
  let line = `${head} ${String(entry.msg ?? '')}${rest.length ? ` ${rest.join(' ')}` : ''}\n`
  const err = entry.err as { stack?: string; message?: string; code?: string } | undefined
  if (err?.stack) line += `${err.stack.replace(/^/gm, '    ')}\n`
  else if (err?.message) line += `    ${err.message}\n`
  return line
}

/** A destination for pino that prints readable lines to `sink` (colours when it is a terminal). */
export function prettyStream(sink: LineSink & { isTTY?: boolean }): Writable {
  const colour = sink.isTTY === true
  let pending = ''
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      pending += chunk.toString()
      let nl = pending.indexOf('\n')
      while (nl >= 0) {
        sink.write(prettyLine(pending.slice(0, nl), colour))
        pending = pending.slice(nl + 1)
        nl = pending.indexOf('\n')
      }
      done()
    },
  })
}
