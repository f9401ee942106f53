import { EventSourceParserStream } from 'eventsource-parser/stream'
// The CLI runs this file as it is, through Node's type stripping: siblings are imported for types only.
import type { operations, paths } from './schema.js'

export type { components, operations, paths } from './schema.js'

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'
/** A raw request body: bytes, a Blob, a stream, text. */
type RawBody = NonNullable<RequestInit['body']>
/** The JSON body of an operation's first 2xx answer. */
type Ok<O> = O extends { responses: infer R }
  ? R extends { 200: infer X }
    ? JsonOf<X>
    : R extends { 201: infer X }
      ? JsonOf<X>
      : R extends { 202: infer X }
        ? JsonOf<X>
        : undefined
  : never
type JsonOf<X> = X extends { content: { 'application/json': infer J } } ? J : undefined
type BodyOf<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? Q : never

/** The answer type of an operation, by its operationId: `Result<'instances.get'>`. */
export type Result<Id extends keyof operations> = Ok<operations[Id]>
export type Instance = Result<'instances.get'>
export type ChatSession = Result<'chat.sessions.create'>
export type ChatTurn = Result<'chat.send'>
export type ChatMessage = ChatTurn['message']
export type ChatEvent = Exclude<Result<'chat.events'>, string>[number]
export type ExecResult = Result<'terminal.exec'>
export type FileList = Result<'files.list'>
export type FileContent = Result<'files.read'>
export type Channel = Result<'channels.get'>
export type LifecycleEvent = Exclude<Result<'instances.events'>, string>[number]
export type Webhook = Result<'webhooks.create'>

/** Every non-2xx answer: `message` for people, `code` for programs. */
export class ClawportError extends Error {
  readonly status: number
  readonly code: string
  readonly details: Record<string, unknown> | undefined

  // Plain fields (no parameter properties) so the source runs under Node's type stripping.
  constructor(status: number, message: string, code = 'http_error', details?: Record<string, unknown>) {
    super(message)
    this.name = 'ClawportError'
    this.status = status
    this.code = code
    this.details = details
  }
}

/** One server-sent event of a chat stream: `id` is the event cursor. */
export interface StreamEvent {
  id?: number
  event: 'session' | 'message' | 'delta' | 'tool' | 'done' | 'error' | (string & {})
  data: any
}

export interface ClientOptions {
  /** `https://host` or `https://host/api`; '' (the default) is the page's own origin in a browser. */
  baseUrl?: string
  apiKey?: string
  /** Sent with every request; a function is called for each one (a CSRF token read from a cookie). */
  headers?: Record<string, string> | (() => Record<string, string>)
  /** Whether the browser sends its cookies: 'include' for a signed-in page on another origin. */
  credentials?: RequestInit['credentials']
  fetch?: typeof fetch
}

type RequestOptions<O> = {
  params?: Record<string, string>
  query?: QueryOf<O>
  body?: BodyOf<O>
  headers?: Record<string, string>
  raw?: RawBody
  signal?: AbortSignal
}

/** A typed client of the Clawport API; `request` reaches any operation of the OpenAPI document. */
export class Clawport {
  readonly baseUrl: string
  private readonly apiKey: string | undefined
  private readonly extraHeaders: ClientOptions['headers']
  private readonly credentials: RequestInit['credentials']
  private readonly fetchFn: typeof fetch

  constructor(opts: ClientOptions = {}) {
    const base = (opts.baseUrl ?? '').replace(/\/+$/, '')
    this.baseUrl = base.endsWith('/api') ? base.slice(0, -4) : base
    this.apiKey = opts.apiKey
    this.extraHeaders = opts.headers
    this.credentials = opts.credentials
    // Looked up per call and called unbound: a browser's fetch refuses any other `this`.
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init))
  }

  /** From OPENCLAW_API_BASE_URL and OPENCLAW_API_KEY. */
  static fromEnv(env: Record<string, string | undefined> = processEnv()): Clawport {
    return new Clawport({ baseUrl: env.OPENCLAW_API_BASE_URL ?? 'http://127.0.0.1:8080', apiKey: env.OPENCLAW_API_KEY })
  }

  url(path: string, params: Record<string, string> = {}, query: object = {}): string {
    const p = path.replace(/\{(\w+)\}/g, (_m, k: string) => encodeURIComponent(params[k] ?? ''))
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v))
    // Not `q.size`: the skill's script, built from this, runs on Node 18 before 18.16 too.
    const qs = q.toString()
    return `${this.baseUrl}${p}${qs ? `?${qs}` : ''}`
  }

  /** The headers every request carries (the configured ones and the key), for WebSockets and uploads made elsewhere. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    const base = typeof this.extraHeaders === 'function' ? this.extraHeaders() : this.extraHeaders
    return { ...base, ...extra, ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) }
  }

  /** The raw response of any operation; throws ClawportError on a non-2xx answer. */
  async send<P extends keyof paths, M extends Method & keyof paths[P]>(
    method: M,
    path: P,
    opts: RequestOptions<paths[P][M]> = {},
  ): Promise<Response> {
    const headers = this.headers(opts.headers)
    let body: RawBody | undefined = opts.raw
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.body)
    } else if (opts.raw !== undefined) headers['content-type'] ??= 'application/octet-stream'
    const init = { method: method.toUpperCase(), headers, body, signal: opts.signal, duplex: 'half' }
    if (this.credentials) Object.assign(init, { credentials: this.credentials })
    const res = await this.fetchFn(this.url(path as string, opts.params, opts.query ?? {}), init as RequestInit)
    if (!res.ok) throw await errorFrom(res)
    return res
  }

  /** Calls any operation and answers its typed JSON body. */
  async request<P extends keyof paths, M extends Method & keyof paths[P]>(
    method: M,
    path: P,
    opts: RequestOptions<paths[P][M]> = {},
  ): Promise<Ok<paths[P][M]>> {
    const res = await this.send(method, path, opts)
    if (res.status === 204 || !(res.headers.get('content-type') ?? '').includes('json')) return undefined as never
    return (await res.json()) as Ok<paths[P][M]>
  }

  readonly instances = {
    list: () => this.request('get', '/api/instances'),
    create: (body: BodyOf<paths['/api/instances']['post']> = {}) => this.request('post', '/api/instances', { body }),
    get: (id: string) => this.request('get', '/api/instances/{id}', { params: { id } }),
    update: (id: string, body: BodyOf<paths['/api/instances/{id}']['patch']>) =>
      this.request('patch', '/api/instances/{id}', { params: { id }, body }),
    status: (id: string) => this.request('get', '/api/instances/{id}/status', { params: { id } }),
    /** The last lines of one of its logs (`source`: boot, clawlet, gateway or desktop). */
    logs: (id: string, query: QueryOf<paths['/api/instances/{id}/logs']['get']> = {}) =>
      this.request('get', '/api/instances/{id}/logs', { params: { id }, query }),
    /** Its CPU, memory, disk, processes, network and gateway right now. */
    metrics: (id: string) => this.request('get', '/api/instances/{id}/metrics', { params: { id } }),
    delete: (id: string) => this.request('delete', '/api/instances/{id}', { params: { id } }),
    reboot: (id: string) => this.request('post', '/api/instances/{id}/reboot', { params: { id } }),
    shutdown: (id: string) => this.request('post', '/api/instances/{id}/shutdown', { params: { id } }),
    start: (id: string) => this.request('post', '/api/instances/{id}/start', { params: { id } }),
    /** Stops its agent and desktop until they are needed (exec and files keep working). */
    sleep: (id: string) => this.request('post', '/api/instances/{id}/sleep', { params: { id } }),
    /** Starts waking a sleeping instance; `waitReady` for the end. A chat turn also wakes it. */
    wake: (id: string) => this.request('post', '/api/instances/{id}/wake', { params: { id } }),
    /** Its lifecycle events after a cursor (status changes, crashes, OOM kills, with reasons). */
    events: (id: string, query: QueryOf<paths['/api/instances/{id}/events']['get']> = {}) =>
      this.request('get', '/api/instances/{id}/events', { params: { id }, query }) as Promise<LifecycleEvent[]>,
    /** Polls until the instance is ready; throws if it fails or time runs out. */
    waitReady: async (id: string, timeoutMs = 600_000): Promise<Instance> => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const inst = await this.instances.get(id)
        if (inst.status === 'ready') return inst
        if (inst.status === 'error' || Date.now() > deadline)
          throw new ClawportError(409, `Instance ${id} is ${inst.status}.`, 'instance_not_ready')
        await new Promise((r) => setTimeout(r, 500))
      }
    },
    /** The first ready instance, else the first sleeping one (it wakes for a turn), if any. */
    findReady: async (): Promise<Instance | undefined> => {
      const list = await this.instances.list()
      return list.find((i) => i.status === 'ready') ?? list.find((i) => i.status === 'sleeping')
    },
  }

  /** Where your instances' events are sent, signed with the secret `create` answers once. */
  readonly webhooks = {
    list: () => this.request('get', '/api/webhooks'),
    create: (body: BodyOf<paths['/api/webhooks']['post']>) => this.request('post', '/api/webhooks', { body }),
    delete: (id: string) => this.request('delete', '/api/webhooks/{id}', { params: { id } }),
    deliveries: (id: string) => this.request('get', '/api/webhooks/{id}/deliveries', { params: { id } }),
  }

  readonly chat = {
    sessions: (id: string) => this.request('get', '/api/instances/{id}/chat/sessions', { params: { id } }),
    createSession: (id: string, title?: string) =>
      this.request('post', '/api/instances/{id}/chat/sessions', { params: { id }, body: title ? { title } : {} }),
    send: (id: string, message: string, sessionId?: string) =>
      this.request('post', '/api/instances/{id}/chat', { params: { id }, body: { message, session_id: sessionId } }),
    messages: (id: string, query: QueryOf<paths['/api/instances/{id}/chat/messages']['get']> = {}) =>
      this.request('get', '/api/instances/{id}/chat/messages', { params: { id }, query }),
    events: (id: string, query: QueryOf<paths['/api/instances/{id}/chat/events']['get']> = {}) =>
      this.request('get', '/api/instances/{id}/chat/events', { params: { id }, query }) as Promise<ChatEvent[]>,
    abort: (id: string, sessionId: string) =>
      this.request('post', '/api/instances/{id}/chat/abort', { params: { id }, body: { session_id: sessionId } }),
    /** Sends a message and yields the turn's events as they come, ending after `done` or `error`. */
    stream: async function* (this: Clawport, id: string, message: string, opts: { sessionId?: string; signal?: AbortSignal } = {}) {
      const res = await this.send('post', '/api/instances/{id}/chat/stream', {
        params: { id },
        body: { message, session_id: opts.sessionId },
        ...(opts.signal ? { signal: opts.signal } : {}),
      })
      yield* readEvents(res)
    }.bind(this) as (id: string, message: string, opts?: { sessionId?: string; signal?: AbortSignal }) => AsyncGenerator<StreamEvent>,
    /** Follows stored then live events after a cursor as SSE; pass the last `id` seen to resume. */
    follow: async function* (this: Clawport, id: string, opts: { after?: number; sessionId?: string; signal?: AbortSignal } = {}) {
      const res = await this.send('get', '/api/instances/{id}/chat/events', {
        params: { id },
        query: { after: opts.after, session_id: opts.sessionId, stream: 'true' } as never,
        headers: { accept: 'text/event-stream' },
        ...(opts.signal ? { signal: opts.signal } : {}),
      })
      yield* readEvents(res)
    }.bind(this) as (id: string, opts?: { after?: number; sessionId?: string; signal?: AbortSignal }) => AsyncGenerator<StreamEvent>,
  }

  readonly files = {
    list: (id: string, path?: string) => this.request('get', '/api/instances/{id}/files', { params: { id }, query: { path } }),
    stat: (id: string, path: string) => this.request('get', '/api/instances/{id}/files/stat', { params: { id }, query: { path } }),
    read: (id: string, path: string) => this.request('get', '/api/instances/{id}/files/read', { params: { id }, query: { path } }),
    write: (id: string, path: string, content: string, encoding?: 'utf8' | 'base64') =>
      this.request('post', '/api/instances/{id}/files/write', { params: { id }, body: { path, content, encoding } }),
    mkdir: (id: string, path: string) => this.request('post', '/api/instances/{id}/files/mkdir', { params: { id }, body: { path } }),
    move: (id: string, from: string, to: string) =>
      this.request('post', '/api/instances/{id}/files/move', { params: { id }, body: { from, to } }),
    remove: (id: string, path: string, recursive = false) =>
      this.request('delete', '/api/instances/{id}/files', { params: { id }, query: { path, recursive: String(recursive) } as never }),
    /** Streams raw bytes (a Uint8Array, Blob or ReadableStream) into a file. */
    upload: (id: string, path: string, data: RawBody) =>
      this.request('post', '/api/instances/{id}/files/upload', { params: { id }, query: { path }, raw: data }),
    /** A file's raw bytes (a folder comes as .tar.gz). */
    download: async (id: string, path: string): Promise<Uint8Array> => {
      const res = await this.send('get', '/api/instances/{id}/files/download', { params: { id }, query: { path } })
      return new Uint8Array(await res.arrayBuffer())
    },
  }

  readonly terminal = {
    exec: (id: string, command: string, opts: { timeout_ms?: number; cwd?: string; stdin?: string } = {}) =>
      this.request('post', '/api/instances/{id}/terminal/exec', { params: { id }, body: { command, ...opts } }),
    /**
     * Opens the interactive shell as a standard WebSocket (browsers, Node 22+), authenticated
     * with a single-use ticket: binary frames are terminal bytes, text frames JSON control
     * messages (`ready`, `exit`; send `resize`).
     */
    connect: async (id: string, opts: { cols?: number; rows?: number; sessionId?: string } = {}): Promise<WebSocket> => {
      const { ticket } = await this.request('post', '/api/instances/{id}/ws-ticket', { params: { id } })
      const url = this.url('/api/instances/{id}/terminal/ws', { id }, { ticket, cols: opts.cols, rows: opts.rows, session_id: opts.sessionId })
      const ws = new WebSocket(url.replace(/^http/, 'ws'))
      ws.binaryType = 'arraybuffer'
      return ws
    },
  }

  /** The instance's chat channels (Telegram): tokens are never answered (`token_set`). */
  readonly channels = {
    list: (id: string) => this.request('get', '/api/instances/{id}/channels', { params: { id } }),
    get: (id: string, name: string) => this.request('get', '/api/instances/{id}/channels/{name}', { params: { id, name } }),
    /** Connects or changes a channel; applies at the instance's next start (reboot it). */
    put: (id: string, name: string, body: BodyOf<paths['/api/instances/{id}/channels/{name}']['put']>) =>
      this.request('put', '/api/instances/{id}/channels/{name}', { params: { id, name }, body }),
    delete: (id: string, name: string) =>
      this.request('delete', '/api/instances/{id}/channels/{name}', { params: { id, name } }),
    /** DM pairing requests waiting for approval. */
    pairing: (id: string, name: string) =>
      this.request('get', '/api/instances/{id}/channels/{name}/pairing', { params: { id, name } }),
    approve: (id: string, name: string, requestId: string) =>
      this.request('post', '/api/instances/{id}/channels/{name}/pairing/{request_id}/approve', {
        params: { id, name, request_id: requestId },
      }),
    dismiss: (id: string, name: string, requestId: string) =>
      this.request('post', '/api/instances/{id}/channels/{name}/pairing/{request_id}/dismiss', {
        params: { id, name, request_id: requestId },
      }),
  }

  readonly desktop = {
    /** A PNG of the whole screen. */
    screenshot: async (id: string): Promise<Uint8Array> => {
      const res = await this.send('get', '/api/instances/{id}/desktop/screenshot', { params: { id } })
      return new Uint8Array(await res.arrayBuffer())
    },
    /** The RFB (VNC) stream as a WebSocket, for noVNC. */
    connect: async (id: string): Promise<WebSocket> => {
      const { ticket } = await this.request('post', '/api/instances/{id}/ws-ticket', { params: { id } })
      const ws = new WebSocket(this.url('/api/instances/{id}/vnc/ws', { id }, { ticket }).replace(/^http/, 'ws'))
      ws.binaryType = 'arraybuffer'
      return ws
    },
  }
}

/** The ClawportError of a non-2xx response (its `{message, code, details}` body, else its text). */
export async function errorFrom(res: Response): Promise<ClawportError> {
  const text = await res.text().catch(() => '')
  let err: { message?: string; code?: string; details?: Record<string, unknown> } | undefined
  try {
    err = JSON.parse(text)
  } catch {}
  if (!err || typeof err !== 'object') return new ClawportError(res.status, text || res.statusText)
  return new ClawportError(res.status, err.message ?? res.statusText, err.code, err.details)
}

/** Node's environment, where there is one (not in a browser). */
function processEnv(): Record<string, string | undefined> {
  return (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {}
}

/** Parses a text/event-stream body into events as they arrive; `data` is JSON where it parses, else text. */
export async function* readEvents(res: Response): AsyncGenerator<StreamEvent> {
  if (!res.body) return
  const reader = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      let data: unknown = value.data
      try {
        data = JSON.parse(value.data)
      } catch {}
      const e: StreamEvent = { event: value.event ?? 'message', data }
      if (value.id !== undefined) e.id = Number(value.id)
      yield e
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}
