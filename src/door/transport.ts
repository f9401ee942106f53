import { createHmac, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type tls from 'node:tls'
import WebSocket from 'ws'
import { doorConnector } from './connect.js'
import type { PeerCredentials } from './unix-socket.js'

/** A clawlet on this host: its Unix socket, in a folder no instance can write. */
export interface UnixTransport {
  unix: string
  /**
   * Why the process at the other end is not this instance's clawlet, or null when it is.
   * Asked once for every new connection, before a byte is sent on it.
   */
  checkPeer?: (peer: PeerCredentials) => string | null
}

/** A clawlet on another host, behind its runner: a base URL (http or https) and the runner's bearer token. */
export interface UrlTransport {
  url: string
  token: string
  /**
   * The runner's own certificate (PEM), the only one trusted for this URL, and its SHA-256
   * fingerprint, which the peer's certificate must have: a runner is pinned, not named by a CA.
   */
  pinned?: { ca: string; fingerprint: string }
}

/** TLS options that accept exactly the pinned certificate (any host name: runners are pinned by key). */
export function pinnedTls(pinned: UrlTransport['pinned']): tls.ConnectionOptions {
  if (!pinned) return {}
  return {
    ca: pinned.ca,
    checkServerIdentity: (_host, cert) =>
      cert.fingerprint256 === pinned.fingerprint
        ? undefined
        : new Error(`the runner's certificate is not the one it registered (${cert.fingerprint256})`),
  }
}

/**
 * Header on the answers a runner's endpoint gives itself about a clawlet (it could not reach it,
 * or failed), never on a clawlet's own: its value is `runnerAnswerMark` of the replicas'
 * credential, which no instance ever sees, so a clawlet cannot forge it even where its bytes
 * pass unparsed (a refused WebSocket upgrade).
 */
export const RUNNER_ANSWER_HEADER = 'x-clawport-runner-answer'

/** The value of `RUNNER_ANSWER_HEADER` for the replicas' credential to a runner. */
export function runnerAnswerMark(credential: string): string {
  return createHmac('sha256', credential).update('clawport runner answer').digest('base64url')
}

/** How the control plane reaches one instance's clawlet. */
export type ClawletTransport = UnixTransport | UrlTransport

/** Where an instance's clawlet is now; asked again whenever a client reconnects after a failure. */
export type TransportResolver = () => Promise<ClawletTransport>

/** A transport, or the resolver that finds it. */
export type TransportSource = ClawletTransport | TransportResolver

/** The connection pool of a link. */
export interface PoolOptions {
  keepAlive: boolean
  maxSockets?: number
  maxFreeSockets?: number
}

/** One request over a link. */
export interface LinkRequest {
  method: string
  path: string
  headers?: http.OutgoingHttpHeaders
  signal?: AbortSignal
}

/** Whether a transport goes through a runner's URL (else: a Unix socket on this host). */
export function isUrlTransport(t: ClawletTransport): t is UrlTransport {
  return 'url' in t
}

/** What makes two transports the same place: a link (its pool) is rebuilt only when this changes. */
function placeOf(t: ClawletTransport): string {
  return isUrlTransport(t) ? `url:${t.url}` : `unix:${t.unix}`
}

/**
 * One resolved transport: a connection pool, and how HTTP requests and WebSocket upgrades go
 * over it. Unix connections are handed over only once their peer passed the check; URL ones
 * carry the bearer token on every request and upgrade, and never follow a redirect.
 */
export class TransportLink {
  readonly place: string
  private transport: ClawletTransport
  private readonly agent: http.Agent
  private readonly base?: URL
  private readonly connector?: ReturnType<typeof doorConnector>
  private mark?: Buffer

  constructor(transport: ClawletTransport, pool: PoolOptions) {
    this.transport = transport
    this.place = placeOf(transport)
    const { keepAlive, maxSockets = Number.POSITIVE_INFINITY, maxFreeSockets = 256 } = pool
    if (isUrlTransport(transport)) {
      const base = new URL(transport.url)
      if (base.protocol !== 'http:' && base.protocol !== 'https:')
        throw new Error(`a clawlet URL must be http or https, not ${base.protocol}`)
      this.base = base
      this.mark = Buffer.from(runnerAnswerMark(transport.token))
      this.agent =
        base.protocol === 'https:'
          ? new https.Agent({ keepAlive, maxSockets, maxFreeSockets, ...pinnedTls(transport.pinned) })
          : new http.Agent({ keepAlive, maxSockets, maxFreeSockets })
    } else {
      this.agent = new http.Agent({ keepAlive, maxSockets, maxFreeSockets })
      // Read at every connect, so a re-resolved check applies to the next connection.
      this.connector = (options, callback) =>
        doorConnector(this.transport as UnixTransport)(options, callback)
      // Pooled or new, every connection is a checked one.
      ;(this.agent as unknown as { createConnection: unknown }).createConnection = this.connector
    }
  }

  /** Takes a re-resolved transport of the same place (a new token, a unix link's new peer check). */
  update(transport: ClawletTransport): void {
    if (placeOf(transport) !== this.place) return
    this.transport = transport
    if (isUrlTransport(transport)) this.mark = Buffer.from(runnerAnswerMark(transport.token))
  }

  /** Whether an answer is the runner's own (marked by it), not the clawlet's behind it. */
  fromRunner(res: http.IncomingMessage): boolean {
    const given = res.headers[RUNNER_ANSWER_HEADER]
    if (!this.mark || typeof given !== 'string') return false
    const b = Buffer.from(given)
    return b.length === this.mark.length && timingSafeEqual(b, this.mark)
  }

  /** Whether this link reaches its clawlet through a runner's URL. */
  get remote(): boolean {
    return this.base !== undefined
  }

  /** Starts one request; the caller ends it (with or without a body). */
  request(req: LinkRequest): http.ClientRequest {
    const t = this.transport
    const base = this.base
    if (!base || !isUrlTransport(t)) {
      return http.request({
        agent: this.agent,
        socketPath: (t as UnixTransport).unix,
        method: req.method,
        path: req.path,
        headers: req.headers,
        signal: req.signal,
      })
    }
    const send = base.protocol === 'https:' ? https.request : http.request
    return send({
      agent: this.agent,
      protocol: base.protocol,
      hostname: base.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: base.port || undefined,
      method: req.method,
      path: this.fullPath(req.path),
      headers: { ...req.headers, authorization: `Bearer ${t.token}` },
      signal: req.signal,
    })
  }

  /** Opens a WebSocket to `path` (with its query) over this link. */
  webSocket(path: string, options: WebSocket.ClientOptions): WebSocket {
    const t = this.transport
    const base = this.base
    if (!base || !isUrlTransport(t)) {
      return new WebSocket(`ws+unix://${(t as UnixTransport).unix}:${path}`, {
        ...options,
        createConnection: this.connector as unknown as WebSocket.ClientOptions['createConnection'],
      })
    }
    const scheme = base.protocol === 'https:' ? 'wss:' : 'ws:'
    return new WebSocket(`${scheme}//${base.host}${this.fullPath(path)}`, {
      ...options,
      followRedirects: false,
      // Handed to tls.connect as they are (ws types the check its own way).
      ...(pinnedTls(t.pinned) as WebSocket.ClientOptions),
      headers: { ...options.headers, authorization: `Bearer ${t.token}` },
    })
  }

  /** Closes the pooled connections. */
  close(): void {
    this.agent.destroy()
  }

  private fullPath(path: string): string {
    return `${(this.base as URL).pathname.replace(/\/+$/, '')}${path}`
  }
}

/**
 * The link a client uses now: resolved on first use and kept, asked for again after `forget()`
 * (a connection failed, a token was refused). A link whose place did not change keeps its pool.
 */
export class LinkHolder {
  private current?: TransportLink
  private pending?: Promise<TransportLink>
  private stale = false

  constructor(
    private readonly source: TransportSource,
    private readonly pool: PoolOptions,
  ) {}

  /** The current link, resolving the transport first when there is none or it was forgotten. */
  get(): Promise<TransportLink> {
    if (this.pending) return this.pending
    if (this.current && !this.stale) return Promise.resolve(this.current)
    this.pending = this.resolve().finally(() => {
      this.pending = undefined
    })
    return this.pending
  }

  /** The next call asks where the clawlet is again. */
  forget(): void {
    this.stale = true
  }

  /** Closes the current link's connections; the next call opens a new one. */
  close(): void {
    this.current?.close()
    this.current = undefined
    this.stale = false
  }

  private async resolve(): Promise<TransportLink> {
    this.stale = false
    const transport = typeof this.source === 'function' ? await this.source() : this.source
    const current = this.current
    if (current && current.place === placeOf(transport)) {
      current.update(transport)
      return current
    }
    // The clawlet is elsewhere now: the old pool reaches nothing useful.
    current?.close()
    this.current = new TransportLink(transport, this.pool)
    return this.current
  }
}
