import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import type WebSocket from 'ws'
import { z } from 'zod'
import { AppError, errors } from '../../errors.js'
import { errnoCode } from '../../lib/errno.js'
import {
  DesktopHealth,
  type ExecRequest,
  ExecResult,
  FileContent,
  FileEntry,
  FileList,
  Health,
  PathResult,
  TerminalSessionInfo,
  WriteResult,
} from '../../wire/clawlet.js'
import { PeerRejectedError } from '../connect.js'
import { LinkHolder, type TransportLink, type TransportSource } from '../transport.js'
import {
  badAnswer,
  CLAWLET_LIMITS,
  type ClawletLimits,
  declaredLength,
  idleCut,
  MAX_EXEC_ANSWER_BYTES,
  readAnswerBytes,
  readCapped,
  runnerAnswer,
  TimeCap,
  translateError,
} from './answers.js'

/** How to reach one instance's clawlet. */
export interface ClawletClientOptions {
  /**
   * Where the clawlet is: its Unix socket on this host or a runner's URL, or the resolver that
   * says so (asked on first use and again after a connection failed).
   */
  transport: TransportSource
  /** Names the instance in errors (its id); never a host path. */
  label?: string
  /** Called when the clawlet cannot be reached or its connection breaks. */
  onUnreachable?: () => void
  /** Caps on sizes and waits of its answers (defaults: `CLAWLET_LIMITS`). */
  limits?: Partial<ClawletLimits>
}

/** Options of a streamed write. */
export interface ClawletWriteOptions {
  /** Create missing parent folders (default false). */
  mkdirs?: boolean
  /** Refuse bodies larger than this (413 file_too_large); unlimited when absent. */
  maxBytes?: number
  /** Replace an existing file (default true). */
  overwrite?: boolean
  /** Aborting cancels the upload; the clawlet then removes its partial file. */
  signal?: AbortSignal
}

/** A streamed download: a file's bytes, or a folder as .tar.gz. */
export interface ClawletDownload {
  kind: 'file' | 'dir'
  size?: number
  stream: Readable
}

interface SendOptions {
  body?: Buffer | NodeJS.ReadableStream
  headers?: Record<string, string | number>
  signal?: AbortSignal
}

/** A JSON call's caps when they differ from the defaults. */
interface CallOptions extends SendOptions {
  maxBytes?: number
  timeoutMs?: number
}

/** An open clawlet WebSocket. */
export interface ClawletSocket {
  ws: WebSocket
  /**
   * Stops collecting and returns the frames received so far: frames that come with the upgrade
   * answer are emitted before a caller awaiting the open could attach its own listener.
   */
  takeEarly(): Array<[Buffer, boolean]>
}

/** Pause between health probes while waiting for a clawlet to come up. */
const HEALTH_POLL_MS = 10

/**
 * Typed calls to an instance's clawlet over its transport (created at once, connected on first
 * use), on one keep-alive connection pool.
 */
export class ClawletClient {
  readonly label: string
  private readonly links: LinkHolder
  private readonly onUnreachable?: () => void
  private readonly limits: ClawletLimits
  /** Answers the runner in front of the clawlet gave itself (see `TransportLink.fromRunner`). */
  private readonly runnerAnswers = new WeakSet<IncomingMessage>()

  constructor(opts: ClawletClientOptions) {
    this.label = opts.label ?? 'instance'
    this.onUnreachable = opts.onUnreachable
    this.limits = { ...CLAWLET_LIMITS, ...opts.limits }
    this.links = new LinkHolder(opts.transport, { keepAlive: true, maxSockets: 64, maxFreeSockets: 8 })
  }

  health(opts: { signal?: AbortSignal } = {}): Promise<Health> {
    return this.json(Health, 'GET', '/v1/health', opts)
  }

  exec(req: ExecRequest, opts: { signal?: AbortSignal } = {}): Promise<ExecResult> {
    // The command's own timeout, then the kill and the last output, bound the wait.
    const timeoutMs = (req.timeout_ms ?? this.limits.execUntimedMs) + this.limits.execMarginMs
    return this.json(ExecResult, 'POST', '/v1/exec', {
      ...jsonBody(req),
      signal: opts.signal,
      timeoutMs,
      maxBytes: MAX_EXEC_ANSWER_BYTES,
    })
  }

  list(path: string): Promise<FileList> {
    return this.json(FileList, 'GET', `/v1/files/list?${query({ path })}`)
  }

  stat(path: string): Promise<FileEntry> {
    return this.json(FileEntry, 'GET', `/v1/files/stat?${query({ path })}`)
  }

  read(path: string, maxBytes?: number): Promise<FileContent> {
    return this.json(FileContent, 'GET', `/v1/files/read?${query({ path, max_bytes: maxBytes })}`, {
      maxBytes: readAnswerBytes(maxBytes),
    })
  }

  /**
   * Writes a file atomically from a buffer or a stream (streamed, never buffered here). If the
   * clawlet refuses the upload part-way (too large, disk full), the rest of `body` is left
   * unread for the caller.
   */
  write(
    path: string,
    body: Buffer | NodeJS.ReadableStream,
    opts: ClawletWriteOptions = {},
  ): Promise<WriteResult> {
    const q = query({
      path,
      mkdirs: opts.mkdirs ? 1 : 0,
      overwrite: opts.overwrite === false ? 0 : 1,
      max_bytes: opts.maxBytes,
    })
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' }
    if (Buffer.isBuffer(body)) headers['content-length'] = body.length
    return this.json(WriteResult, 'PUT', `/v1/files/write?${q}`, { body, headers, signal: opts.signal })
  }

  /**
   * Opens a download; the caller must consume or destroy `stream`. It keeps its backpressure and
   * is cut when the clawlet stalls while the reader waits.
   */
  async download(path: string, opts: { signal?: AbortSignal } = {}): Promise<ClawletDownload> {
    const res = await this.timed(new TimeCap(this.limits.callMs, opts.signal), async (signal) => {
      const res = await this.send('GET', `/v1/files/download?${query({ path })}`, { signal })
      if (res.statusCode !== 200) throw await this.errorFrom(res, signal)
      return res
    })
    const size = declaredLength(res)
    const idleMs = this.limits.idleMs
    return {
      kind: res.headers['x-clawlet-kind'] === 'dir' ? 'dir' : 'file',
      ...(size === undefined ? {} : { size }),
      stream: idleCut(res, idleMs, () =>
        errors.instanceUnavailable(this.label, `its clawlet sent nothing for ${idleMs} ms.`),
      ),
    }
  }

  mkdir(path: string): Promise<PathResult> {
    return this.json(PathResult, 'POST', '/v1/files/mkdir', jsonBody({ path }))
  }

  remove(path: string, recursive = false): Promise<void> {
    return this.empty('DELETE', `/v1/files?${query({ path, recursive: recursive ? 1 : 0 })}`, [200, 204])
  }

  move(from: string, to: string, overwrite = false): Promise<PathResult> {
    return this.json(PathResult, 'POST', '/v1/files/move', jsonBody({ from, to, overwrite }))
  }

  terminalSessions(): Promise<TerminalSessionInfo[]> {
    return this.json(z.array(TerminalSessionInfo), 'GET', '/v1/terminal/sessions')
  }

  closeTerminalSession(id: string): Promise<void> {
    return this.empty('DELETE', `/v1/terminal/sessions?${query({ id })}`, [204])
  }

  /** Stops the desktop until `desktopWake` (an idle instance gives its memory back). */
  desktopSleep(): Promise<DesktopHealth> {
    return this.json(DesktopHealth, 'POST', '/v1/desktop/sleep')
  }

  /** Starts a sleeping desktop again; answers once it accepts connections, or after a few seconds. */
  desktopWake(): Promise<DesktopHealth> {
    return this.json(DesktopHealth, 'POST', '/v1/desktop/wake')
  }

  /** A PNG of the instance's whole screen. */
  screenshot(): Promise<Buffer> {
    const path = '/v1/desktop/screenshot'
    return this.timed(new TimeCap(this.limits.callMs), async (signal) => {
      const res = await this.send('GET', path, { signal })
      if (res.statusCode !== 200) throw await this.errorFrom(res, signal)
      return this.readBody(res, this.limits.screenshotBytes, `GET ${path}`, signal)
    })
  }

  /**
   * Opens one of the clawlet's WebSockets (`/v1/terminal/ws?...`, `/v1/vnc/ws`) and resolves
   * once it is open; a refusal becomes the clawlet's own error, so callers can answer it
   * before upgrading their client.
   */
  async openSocket(path: string): Promise<ClawletSocket> {
    const link = await this.link()
    return new Promise((resolve, reject) => {
      const ws = link.webSocket(path, {
        perMessageDeflate: false,
        maxPayload: this.limits.frameBytes,
        handshakeTimeout: this.limits.callMs,
      })
      const early: Array<[Buffer, boolean]> = []
      const collect = (data: WebSocket.RawData, isBinary: boolean) => {
        early.push([Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer), isBinary])
      }
      ws.on('message', collect)
      ws.once('open', () => {
        ws.removeAllListeners('error')
        ws.on('error', () => {})
        // 1006: the clawlet went away without a closing handshake.
        ws.once('close', (code) => {
          if (code === 1006) this.onUnreachable?.()
        })
        resolve({
          ws,
          takeEarly: () => {
            ws.off('message', collect)
            return early
          },
        })
      })
      ws.once('unexpected-response', (req, res) => {
        if (link.remote && res.statusCode === 401) {
          req.destroy()
          reject(this.mapError(new TokenRefusedError()))
          return
        }
        if (link.fromRunner(res)) this.runnerAnswers.add(res)
        this.errorFrom(res).then((err) => {
          req.destroy()
          reject(err)
        }, reject)
      })
      ws.once('error', (err) => reject(this.mapError(err)))
    })
  }

  /** Closes the pooled connections; in-flight requests finish. */
  close(): void {
    this.links.close()
  }

  /** The link to the clawlet, found first when there is none yet or the last one failed. */
  private async link(): Promise<TransportLink> {
    try {
      return await this.links.get()
    } catch (err) {
      if (err instanceof AppError) throw err
      throw errors.instanceUnavailable(this.label, 'where its clawlet runs could not be found.')
    }
  }

  private json<T>(schema: z.ZodType<T>, method: string, path: string, opts: CallOptions = {}): Promise<T> {
    // A streamed upload lasts as long as its sender takes: its answer is timed once it is sent.
    const streamed = opts.body !== undefined && !Buffer.isBuffer(opts.body)
    const cap = new TimeCap(opts.timeoutMs ?? this.limits.callMs, opts.signal, !streamed)
    return this.timed(cap, async (signal) => {
      if (streamed) (opts.body as NodeJS.ReadableStream).once('end', () => cap.start())
      const res = await this.send(method, path, { ...opts, signal })
      cap.start()
      if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) {
        throw await this.errorFrom(res, signal)
      }
      const what = `${method} ${path.split('?')[0]}`
      const body = await this.readBody(res, opts.maxBytes ?? this.limits.jsonBytes, what, signal)
      try {
        return schema.parse(JSON.parse(body.toString('utf8')))
      } catch {
        throw badAnswer(this.label, `answered ${what} with an unexpected body.`)
      }
    })
  }

  /** A call answered without a body worth reading (`ok` statuses); what comes is capped. */
  private empty(method: string, path: string, ok: number[]): Promise<void> {
    return this.timed(new TimeCap(this.limits.callMs), async (signal) => {
      const res = await this.send(method, path, { signal })
      if (!ok.includes(res.statusCode ?? 0)) throw await this.errorFrom(res, signal)
      await this.readBody(res, this.limits.errorBytes, `${method} ${path.split('?')[0]}`, signal)
    })
  }

  /**
   * Runs one call under a time cap joined with the caller's signal: the cap expiring is the
   * instance's failure (503), the caller's own abort stays an abort.
   */
  private async timed<T>(cap: TimeCap, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await fn(cap.signal)
    } catch (err) {
      if (cap.timedOut) throw this.tooSlow(cap.ms)
      throw err
    } finally {
      cap.clear()
    }
  }

  private tooSlow(ms: number): AppError {
    return errors.instanceUnavailable(this.label, `its clawlet did not answer within ${ms} ms.`)
  }

  /** Sends one request and resolves with the response head; retries once on a stale pooled socket. */
  private async send(method: string, path: string, opts: SendOptions = {}): Promise<IncomingMessage> {
    const link = await this.link()
    try {
      return await this.attempt(link, method, path, opts)
    } catch (err) {
      const retryable = opts.body === undefined || Buffer.isBuffer(opts.body)
      if (!(err instanceof StaleSocketError) || !retryable)
        throw this.mapError(err instanceof StaleSocketError ? err.cause : err, opts.signal)
      try {
        return await this.attempt(link, method, path, opts)
      } catch (again) {
        throw this.mapError(again instanceof StaleSocketError ? again.cause : again, opts.signal)
      }
    }
  }

  private attempt(
    link: TransportLink,
    method: string,
    path: string,
    opts: SendOptions,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = link.request({ method, path, headers: opts.headers, signal: opts.signal })
      let answered = false
      let source: Readable | undefined
      let sourceError: Error | undefined
      req.once('response', (res) => {
        answered = true
        if (link.remote && res.statusCode === 401) {
          // The runner in front of the clawlet refused the token: nothing of the call was run.
          req.destroy()
          reject(new TokenRefusedError())
          return
        }
        if (link.fromRunner(res)) this.runnerAnswers.add(res)
        if (source && (res.statusCode ?? 500) >= 300 && !source.readableEnded) {
          // The clawlet refused the upload early: stop sending, and drop the connection once
          // the error answer has been read.
          source.unpipe(req)
          res.once('end', () => req.destroy())
        }
        resolve(res)
      })
      req.on('error', (err) => {
        if (answered) return
        if (sourceError) reject(new UploadSourceError(sourceError))
        else if (req.reusedSocket && errnoCode(err) === 'ECONNRESET') reject(new StaleSocketError(err))
        else reject(err)
      })
      const body = opts.body
      if (body === undefined) req.end()
      else if (Buffer.isBuffer(body)) req.end(body)
      else {
        source = body instanceof Readable ? body : new Readable().wrap(body)
        const src = source
        // The source failing or closing early (its client went away) must abort the request,
        // so the clawlet drops its partial file.
        src.once('error', (err) => {
          sourceError = err
          req.destroy(err)
        })
        src.once('close', () => {
          if (!src.readableEnded && !answered) {
            sourceError ??= new AppError('upload_aborted', 'The upload was interrupted before it finished.', {
              // The client went away: no one reads this answer.
              status: 499,
            })
            req.destroy(sourceError)
          }
        })
        src.pipe(req)
      }
    })
  }

  /** A whole body of at most maxBytes; a larger one drops the connection and is a bad answer. */
  private async readBody(
    res: IncomingMessage,
    maxBytes: number,
    what: string,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const tooBig = () => badAnswer(this.label, `answered ${what} with more than ${maxBytes} bytes.`)
    try {
      return await readCapped(res, maxBytes, tooBig, signal)
    } catch (err) {
      throw this.mapError(err, signal)
    }
  }

  /**
   * A non-2xx answer as the public error: the clawlet's own only for the codes passed on (a
   * missing path, a full disk...), else 502 clawlet_bad_answer. Read within its own caps. The
   * runner's own answer is what the same failure gives on this host.
   */
  private async errorFrom(res: IncomingMessage, signal?: AbortSignal): Promise<AppError> {
    const status = res.statusCode ?? 0
    const cap = new TimeCap(this.limits.callMs, signal)
    try {
      const body = await this.readBody(res, this.limits.errorBytes, `with status ${status}`, cap.signal)
      if (this.runnerAnswers.has(res))
        return this.mapError(runnerAnswer(this.label, status, body)) as AppError
      return translateError(this.label, status, body)
    } catch (err) {
      if (cap.timedOut) return this.tooSlow(cap.ms)
      return err instanceof AppError ? err : translateError(this.label, status, undefined)
    } finally {
      cap.clear()
    }
  }

  private mapError(err: unknown, signal?: AbortSignal): unknown {
    if (err instanceof AppError) return err
    // The upload's own source failed: that is the caller's error, not the instance's.
    if (err instanceof UploadSourceError) return err.cause
    if (signal?.aborted || (err instanceof Error && err.name === 'AbortError')) return err
    // Whatever failed below, the next call asks where the clawlet is again.
    this.links.forget()
    if (err instanceof TokenRefusedError)
      return errors.instanceUnavailable(this.label, "its runner refused the control plane's token.")
    if (err instanceof PeerRejectedError) {
      this.onUnreachable?.()
      return errors.instanceUnavailable(this.label, `its clawlet could not be verified: ${err.message}.`)
    }
    const code = errnoCode(err)
    const gone = code === 'ENOENT' || code === 'ECONNREFUSED'
    const lost = code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE'
    if (gone || lost) this.onUnreachable?.()
    const reason = gone
      ? 'its clawlet is not running.'
      : lost
        ? 'the connection to its clawlet was lost.'
        : `its clawlet did not answer (${code ?? 'unknown error'}).`
    return errors.instanceUnavailable(this.label, reason)
  }
}

/** The body being uploaded failed or ended early; the request was aborted because of it. */
class UploadSourceError extends Error {
  constructor(override readonly cause: unknown) {
    super('upload source failed')
  }
}

/** The runner in front of a clawlet answered 401: the token it was sent is not (or no longer) valid. */
class TokenRefusedError extends Error {
  constructor() {
    super('token refused')
  }
}

/** A pooled keep-alive socket the clawlet had already closed: safe to retry once. */
class StaleSocketError extends Error {
  constructor(override readonly cause: unknown) {
    super('stale pooled socket')
  }
}

function jsonBody(value: unknown): SendOptions {
  const body = Buffer.from(JSON.stringify(value))
  return { body, headers: { 'content-type': 'application/json', 'content-length': body.length } }
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value !== undefined) q.set(key, String(value))
  return q.toString()
}

/** Polls a clawlet's health every few milliseconds until it answers, or fails after timeoutMs. */
export async function waitForHealth(client: ClawletClient, timeoutMs: number): Promise<Health> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    try {
      return await client.health()
    } catch {
      // Not listening yet: poll again.
    }
    if (performance.now() >= deadline) break
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS))
  }
  throw errors.instanceUnavailable(client.label, `its clawlet did not become ready within ${timeoutMs} ms.`)
}
