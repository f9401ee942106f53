import { Readable } from 'node:stream'
import { Clawport, ClawportError, readEvents, type StreamEvent } from '@clawport/sdk/source'

/** An error answer from the server (or no answer), printed as `HTTP <status>: <message>`. */
export { ClawportError as ClientError }

/** Where the server is and which key to use: flags first, then the environment. */
export interface Connection {
  baseUrl: string
  apiKey?: string
}

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080/api'

/** `https://host` and `https://host/api` both mean the API at `https://host/api`. */
export function apiBase(url: string): string {
  const base = url.replace(/\/+$/, '')
  return base.endsWith('/api') ? base : `${base}/api`
}

export function connectionFrom(
  flags: { 'base-url'?: string; 'api-key'?: string },
  env = process.env,
): Connection {
  const apiKey = flags['api-key'] ?? env.OPENCLAW_API_KEY
  return {
    baseUrl: apiBase(flags['base-url'] ?? env.OPENCLAW_API_BASE_URL ?? DEFAULT_BASE_URL),
    ...(apiKey ? { apiKey } : {}),
  }
}

type Query = Record<string, string | number | boolean | undefined>

/** The SDK with paths relative to the API root: JSON in and out, errors as ClientError. */
export class Api {
  readonly sdk: Clawport

  constructor(readonly conn: Connection) {
    this.sdk = new Clawport({ baseUrl: conn.baseUrl, ...(conn.apiKey ? { apiKey: conn.apiKey } : {}) })
  }

  url(path: string, query: Query = {}): string {
    return this.sdk.url(`/api${path}`, {}, query)
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.sdk.headers(extra)
  }

  /** Runs an SDK call; a server that cannot be reached becomes a ClientError with status 0. */
  async call<T>(fn: (sdk: Clawport) => Promise<T>): Promise<T> {
    try {
      return await fn(this.sdk)
    } catch (err) {
      if (err instanceof ClawportError) throw err
      const cause = (err as { cause?: { message?: string } }).cause?.message
      throw new ClawportError(0, `cannot reach ${this.conn.baseUrl}: ${cause ?? (err as Error).message}`)
    }
  }

  /** Sends a request; answers the raw response when it is 2xx, else throws its error. */
  fetch(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; raw?: Readable | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const { raw, ...rest } = opts
    const body = raw && (Buffer.isBuffer(raw) ? raw : (Readable.toWeb(raw) as ReadableStream))
    // Paths here are concrete (ids filled in), so they are not the document's typed templates.
    return this.call((sdk) =>
      sdk.send(
        method.toLowerCase() as 'get',
        `/api${path}` as never,
        { ...rest, ...(body ? { raw: body } : {}) } as never,
      ),
    )
  }

  async json<T = any>(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown } = {},
  ): Promise<T> {
    const res = await this.fetch(method, path, opts)
    if (res.status === 204) return null as T
    return (await res.json()) as T
  }

  /** The instance to act on: the flag, OPENCLAW_INSTANCE_ID, or the first ready (else sleeping) instance. */
  async instanceId(flag?: string, env = process.env): Promise<string> {
    const id = flag ?? env.OPENCLAW_INSTANCE_ID
    if (id) return id
    const ready = await this.call((sdk) => sdk.instances.findReady())
    if (!ready)
      throw new ClawportError(409, 'No ready instance; create one with: clawport instances create --wait')
    return ready.id
  }
}

/** One server-sent event. */
export type SseEvent = StreamEvent

/** Parses a text/event-stream body into events as they arrive; data is JSON where it parses. */
export const readSse: (res: Response) => AsyncGenerator<SseEvent> = readEvents
