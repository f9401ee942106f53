import { Readable } from 'node:stream'
import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream'

/** An error answer from the server (or no answer), printed as `HTTP <status>: <message>`. */
export class ClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message)
  }
}

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

/** A thin client of the REST API: JSON in and out, errors as ClientError. */
export class Api {
  constructor(readonly conn: Connection) {}

  url(path: string, query: Query = {}): string {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v))
    const s = q.toString()
    return `${this.conn.baseUrl}${path}${s ? `?${s}` : ''}`
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.conn.apiKey ? { authorization: `Bearer ${this.conn.apiKey}` } : {}), ...extra }
  }

  /** Sends a request; answers the raw response when it is 2xx, else throws its error. */
  async fetch(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; raw?: Readable | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers = this.headers(opts.headers)
    let body: RequestInit['body']
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.body)
    } else if (opts.raw) {
      headers['content-type'] = 'application/octet-stream'
      body = (Buffer.isBuffer(opts.raw) ? opts.raw : Readable.toWeb(opts.raw)) as RequestInit['body']
    }
    let res: Response
    try {
      res = await fetch(this.url(path, opts.query), { method, headers, body, duplex: 'half' } as RequestInit)
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message
      throw new ClientError(0, `cannot reach ${this.conn.baseUrl}: ${cause ?? (err as Error).message}`)
    }
    if (!res.ok) throw await errorOf(res)
    return res
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
    const list = await this.json<Array<{ id: string; status: string }>>('GET', '/instances')
    // A sleeping instance wakes for whatever needs its agent: better than none.
    const ready = list.find((i) => i.status === 'ready') ?? list.find((i) => i.status === 'sleeping')
    if (!ready)
      throw new ClientError(409, 'No ready instance; create one with: clawport instances create --wait')
    return ready.id
  }
}

async function errorOf(res: Response): Promise<ClientError> {
  const text = await res.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { message?: string; code?: string }
    return new ClientError(res.status, body.message ?? res.statusText, body.code)
  } catch {
    return new ClientError(res.status, text || res.statusText)
  }
}

/** One server-sent event. */
export interface SseEvent {
  id?: string
  event: string
  data: any
}

/** Parses a text/event-stream body into events as they arrive; data is JSON where it parses. */
export async function* readSse(res: Response): AsyncGenerator<SseEvent> {
  if (!res.body) return
  const events = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())
  for await (const m of events as unknown as AsyncIterable<EventSourceMessage>) {
    const e: SseEvent = { event: m.event ?? 'message', data: m.data }
    if (m.id !== undefined) e.id = m.id
    try {
      e.data = JSON.parse(m.data)
    } catch {}
    yield e
  }
}
