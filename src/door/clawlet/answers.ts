import type { IncomingMessage } from 'node:http'
import { pipeline, type Readable, Transform } from 'node:stream'
import { AppError, type ErrorCode, errorCode, isErrorCode } from '../../errors.js'
import { OUTPUT_CAP_BYTES, READ_CEILING_BYTES, READ_DEFAULT_MAX_BYTES } from '../../wire/clawlet.js'
import { PeerRejectedError } from '../connect.js'

const MiB = 1024 * 1024

/** Most bytes of a JSON answer (health, lists, stats, gateway state). */
export const MAX_JSON_BYTES = 4 * MiB
/** Most bytes of an error answer's body. */
export const MAX_ERROR_BYTES = 64 * 1024
/** A 4096x4096 RGB PNG (the largest desktop) that did not compress at all, with room. */
export const MAX_SCREENSHOT_BYTES = 64 * MiB
/** Longest line of a turn's event stream. */
export const MAX_EVENT_LINE_BYTES = 4 * MiB
/** Largest frame on a clawlet WebSocket: terminal and VNC chunks and the 512 KiB replay fit. */
export const MAX_FRAME_BYTES = 2 * MiB
/** Longest message of a clawlet's error that is passed on. */
export const MAX_ERROR_MESSAGE_CHARS = 1000
/** Largest `details` (as JSON) of a clawlet's error that is passed on. */
const MAX_ERROR_DETAILS_CHARS = 4096
/** Head and body of a short call within this. */
export const CALL_TIMEOUT_MS = 30_000
/** How long past its own timeout_ms an exec may take to answer (the kill, the last output). */
export const EXEC_MARGIN_MS = 15_000
/** The wait for a command sent without a timeout_ms. */
export const EXEC_UNTIMED_MS = 60 * 60_000
/** A download is cut after this long without a byte from the clawlet while its reader waits. */
export const IDLE_TIMEOUT_MS = 60_000

/** JSON escapes a control character as six bytes: the most a byte of text can grow. */
const JSON_GROWTH = 6

/** Most bytes of an exec answer: both outputs at the clawlet's cap, fully escaped. */
export const MAX_EXEC_ANSWER_BYTES = 2 * OUTPUT_CAP_BYTES * JSON_GROWTH + MiB

/** Most bytes of a file read's answer, for the `max_bytes` it was asked with. */
export function readAnswerBytes(maxBytes: number | undefined): number {
  const limit = Math.min(maxBytes ?? READ_DEFAULT_MAX_BYTES, READ_CEILING_BYTES)
  return Math.max(MAX_JSON_BYTES, limit * JSON_GROWTH + MiB)
}

/** Caps on what the control plane reads from one clawlet; every instance is untrusted. */
export interface ClawletLimits {
  jsonBytes: number
  errorBytes: number
  screenshotBytes: number
  eventLineBytes: number
  frameBytes: number
  callMs: number
  execMarginMs: number
  execUntimedMs: number
  idleMs: number
}

export const CLAWLET_LIMITS: Readonly<ClawletLimits> = {
  jsonBytes: MAX_JSON_BYTES,
  errorBytes: MAX_ERROR_BYTES,
  screenshotBytes: MAX_SCREENSHOT_BYTES,
  eventLineBytes: MAX_EVENT_LINE_BYTES,
  frameBytes: MAX_FRAME_BYTES,
  callMs: CALL_TIMEOUT_MS,
  execMarginMs: EXEC_MARGIN_MS,
  execUntimedMs: EXEC_UNTIMED_MS,
  idleMs: IDLE_TIMEOUT_MS,
}

/**
 * The codes a clawlet answers for what its caller asked (a missing path, a full disk, a busy
 * desktop): only these, with the status the registry gives them, are passed on as the public
 * error. Anything else a clawlet says is its own failure, never the server's.
 */
const PASSED_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'path_not_found',
  'permission_denied',
  'invalid_path',
  'validation_failed',
  'payload_too_large',
  'file_too_large',
  'disk_full',
  'is_a_directory',
  'not_a_directory',
  'not_a_regular_file',
  'already_exists',
  'directory_not_empty',
  'upload_aborted',
  'too_many_sessions',
  'desktop_off',
  'terminal_session_not_found',
  'desktop_unavailable',
  'instance_resources_exhausted',
])

/** The answer of an instance that said something it should not have. */
export function badAnswer(label: string, what: string): AppError {
  return new AppError('clawlet_bad_answer', `Instance ${label} ${what}`)
}

/** Text from an instance made safe to show: no control or direction characters, bounded. */
export function cleanText(text: string, maxChars = MAX_ERROR_MESSAGE_CHARS): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, ' ')
  return clean.length > maxChars ? `${clean.slice(0, maxChars)}...` : clean
}

/**
 * The public error for a clawlet's non-2xx answer body: its own error when it is one of the
 * codes passed on, with that code's registered status; otherwise 502 clawlet_bad_answer.
 */
export function translateError(label: string, status: number, body: Buffer | undefined): AppError {
  const fallback = badAnswer(label, `answered with status ${status}.`)
  if (!body) return fallback
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    return fallback
  }
  if (typeof parsed !== 'object' || parsed === null) return fallback
  const { code, message, details } = parsed as { code?: unknown; message?: unknown; details?: unknown }
  if (typeof code !== 'string' || typeof message !== 'string' || !PASSED_CODES.has(code)) return fallback
  if (!isErrorCode(code) || errorCode(code).status !== status) return fallback
  const keep =
    typeof details === 'object' &&
    details !== null &&
    !Array.isArray(details) &&
    JSON.stringify(details).length <= MAX_ERROR_DETAILS_CHARS
  return new AppError(code, cleanText(message), keep ? { details: details as Record<string, unknown> } : {})
}

/**
 * What a runner's own answer about a clawlet (see `TransportLink.fromRunner`) stands for: the
 * system error it met reaching the clawlet, which the client takes as if met on this host (so a
 * stopped instance fails alike wherever it runs), or else the runner's own failure.
 */
export function runnerAnswer(label: string, status: number, body: Buffer | undefined): Error {
  let parsed: { message?: unknown; details?: { errno?: unknown } } = {}
  try {
    parsed = JSON.parse(body?.toString('utf8') ?? '') ?? {}
  } catch {
    // Not JSON: the runner failed, and says no more.
  }
  const message = typeof parsed.message === 'string' ? cleanText(parsed.message) : ''
  const errno = parsed.details?.errno
  if (typeof errno === 'string' && /^E[A-Z0-9_]{1,40}$/.test(errno)) {
    if (errno === 'EPEERREJECTED') return new PeerRejectedError(message)
    return Object.assign(new Error(message || errno), { code: errno })
  }
  return new AppError(
    'runner_failed',
    `The runner of instance ${label} failed the request (status ${status})${message ? `: ${message}` : '.'}`,
  )
}

/** A declared Content-Length, when it is a plain non-negative integer. */
export function declaredLength(res: IncomingMessage): number | undefined {
  const raw = res.headers['content-length']
  if (raw === undefined || !/^\d{1,15}$/.test(raw)) return undefined
  return Number(raw)
}

/**
 * Reads a whole body, at most `maxBytes`: a larger declared length or a body that grows past it
 * drops the connection at once (nothing more is read) and throws `tooBig()`. Aborting `signal`
 * drops the connection too.
 */
export async function readCapped(
  res: IncomingMessage,
  maxBytes: number,
  tooBig: () => AppError,
  signal?: AbortSignal,
): Promise<Buffer> {
  const declared = declaredLength(res)
  if (declared !== undefined && declared > maxBytes) {
    res.destroy()
    throw tooBig()
  }
  const onAbort = () => res.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
  if (signal?.aborted) onAbort()
  signal?.addEventListener('abort', onAbort, { once: true })
  const chunks: Buffer[] = []
  let total = 0
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      total += chunk.length
      if (total > maxBytes) {
        res.destroy()
        throw tooBig()
      }
      chunks.push(chunk)
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  return Buffer.concat(chunks, total)
}

/**
 * A time cap for one call, joined with the caller's own signal: `signal` aborts when either
 * does, and `timedOut` tells the cap's expiry from the caller's abort. `start()` may be
 * deferred (a streamed upload is timed once it has been sent).
 */
export class TimeCap {
  readonly signal: AbortSignal
  private expired = false
  private readonly ctl = new AbortController()
  private timer?: NodeJS.Timeout

  constructor(
    readonly ms: number,
    private readonly outer?: AbortSignal,
    startNow = true,
  ) {
    this.signal = outer ? AbortSignal.any([outer, this.ctl.signal]) : this.ctl.signal
    if (startNow) this.start()
  }

  /** The cap expired before the caller gave up on its own. */
  get timedOut(): boolean {
    return this.expired && !this.outer?.aborted
  }

  start(): void {
    if (this.timer || this.expired) return
    this.timer = setTimeout(() => {
      this.expired = true
      this.ctl.abort(new Error(`no answer within ${this.ms} ms`))
    }, this.ms)
    this.timer.unref()
  }

  clear(): void {
    clearTimeout(this.timer)
  }
}

/**
 * A streamed body passed through with its backpressure, cut with `onIdle()` once the clawlet
 * has sent nothing for `idleMs` while the reader was waiting for bytes (a slow reader is not
 * the clawlet's stall). Destroying the result drops the clawlet's connection.
 */
export function idleCut(res: IncomingMessage, idleMs: number, onIdle: () => AppError): Readable {
  const guard = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      timer.refresh()
      done(null, chunk)
    },
  })
  const check = () => {
    if (guard.readableLength > 0 || guard.writableLength > 0 || res.readableLength > 0) timer.refresh()
    else guard.destroy(onIdle())
  }
  const timer = setTimeout(check, idleMs)
  timer.unref()
  pipeline(res, guard, () => clearTimeout(timer))
  return guard
}

/**
 * The lines of a streamed body, decoded whole (a character split between chunks stays intact);
 * a line longer than `maxBytes` throws `tooLong()`, and ending the iteration drops the body.
 */
export async function* readLines(
  body: AsyncIterable<Buffer>,
  maxBytes: number,
  tooLong: () => AppError,
): AsyncGenerator<string> {
  let parts: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    let start = 0
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl)
      if (size + piece.length > maxBytes) throw tooLong()
      const line = parts.length === 0 ? piece : Buffer.concat([...parts, piece])
      parts = []
      size = 0
      start = nl + 1
      yield line.toString('utf8')
    }
    const rest = chunk.subarray(start)
    size += rest.length
    if (size > maxBytes) throw tooLong()
    if (rest.length > 0) parts.push(rest)
  }
  if (size > 0) yield Buffer.concat(parts).toString('utf8')
}
