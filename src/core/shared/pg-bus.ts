import pg from 'pg'
import type { Logger } from '../../log.js'
import { openPgPool } from '../../store/postgres.js'
import { type BusChannel, type EventBus, Subscribers } from './bus.js'

/** The PostgreSQL channel every replica LISTENs on (one per database). */
export const PG_BUS_CHANNEL = 'clawport_bus'
/** Reconnect delays of the listening connection: doubled from the first to the last, with jitter. */
const RETRY_FIRST_MS = 100
const RETRY_MAX_MS = 5_000
/** How often the listening connection is checked: a half-open TCP connection sends no error. */
const PING_MS = 15_000
const QUERY_TIMEOUT_MS = 10_000

type Subscriber = (id: string) => void

/**
 * The bus of replicas sharing one PostgreSQL: LISTEN/NOTIFY on one channel. A notification is
 * `{"c": channel, "id": id}`, a wake-up only (NOTIFY payloads are small and are lost when the
 * listening connection drops). One dedicated connection listens and reconnects with backoff when
 * it drops; subscribers are then called with `'*'`. Publishing goes through a pool of two.
 */
export class PgBus implements EventBus {
  private readonly subs = new Subscribers()
  private readonly pool: pg.Pool
  private client?: pg.Client
  private pid?: number
  private closed = false
  private reconnecting?: Promise<void>
  private ping?: NodeJS.Timeout
  private retry?: { timer: NodeJS.Timeout; resolve: () => void }

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly channel = PG_BUS_CHANNEL,
  ) {
    this.pool = openPgPool(url, 2)
  }

  /** Connects the listening connection; rejects when PostgreSQL cannot be reached now. */
  async start(): Promise<void> {
    await this.listen()
    this.ping = setInterval(() => void this.checkListener(), PING_MS)
    this.ping.unref()
  }

  /** The server process id of the listening connection (tests cut it to prove the reconnect). */
  listenerPid(): number | undefined {
    return this.pid
  }

  async publish(channel: BusChannel, id: string): Promise<void> {
    if (this.closed) return
    try {
      await this.pool.query('SELECT pg_notify($1, $2)', [this.channel, JSON.stringify({ c: channel, id })])
    } catch (err) {
      this.log.warn({ err, channel, id }, 'bus publish failed')
      throw err
    }
  }

  subscribe(channel: BusChannel, fn: Subscriber): () => void {
    return this.subs.add(channel, fn)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.ping)
    if (this.retry) {
      clearTimeout(this.retry.timer)
      this.retry.resolve()
    }
    const client = this.client
    this.client = undefined
    await Promise.allSettled([client?.end(), this.pool.end(), this.reconnecting])
    this.subs.clear()
  }

  /** One connection, LISTENing; it becomes the current one only once LISTEN has succeeded. */
  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'clawport-bus',
      keepAlive: true,
      query_timeout: QUERY_TIMEOUT_MS,
    })
    // Without a listener an error event would end the process; `end` follows it.
    client.on('error', () => {})
    client.on('notification', (m) => this.onNotification(m))
    try {
      await client.connect()
      await client.query(`LISTEN ${client.escapeIdentifier(this.channel)}`)
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      if (this.closed) throw new Error('the bus is closed')
      client.once('end', () => this.lost(client))
      this.client = client
      this.pid = rows[0]?.pid
    } catch (err) {
      await client.end().catch(() => {})
      throw err
    }
  }

  private onNotification(m: pg.Notification): void {
    if (m.channel !== this.channel || !m.payload) return
    let msg: unknown
    try {
      msg = JSON.parse(m.payload)
    } catch {
      return
    }
    const { c, id } = (msg ?? {}) as { c?: unknown; id?: unknown }
    if (typeof c !== 'string' || typeof id !== 'string') return
    this.call(c as BusChannel, id)
  }

  private call(channel: BusChannel, id: string): void {
    this.subs.call(channel, id, (err) => this.log.error({ err, channel }, 'bus subscriber failed'))
  }

  /** A half-open connection only shows when it is used. */
  private async checkListener(): Promise<void> {
    const client = this.client
    if (!client || this.reconnecting) return
    try {
      await client.query('SELECT 1')
    } catch {
      await client.end().catch(() => {})
      this.lost(client)
    }
  }

  private lost(client: pg.Client): void {
    if (this.closed || this.client !== client) return
    this.client = undefined
    this.pid = undefined
    this.log.warn('bus connection lost, reconnecting')
    this.reconnecting = this.reconnect().finally(() => {
      this.reconnecting = undefined
    })
  }

  private async reconnect(): Promise<void> {
    let delayMs = RETRY_FIRST_MS
    while (!this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs * (0.5 + Math.random() / 2))
        this.retry = { timer, resolve }
      })
      this.retry = undefined
      if (this.closed) return
      try {
        await this.listen()
        this.log.info('bus reconnected')
        // Notifications sent while nobody listened are gone: everyone re-reads what they follow.
        this.subs.callAll((channel, err) => this.log.error({ err, channel }, 'bus subscriber failed'))
        return
      } catch (err) {
        if (this.closed) return
        this.log.warn({ err, retryMs: delayMs }, 'bus reconnect failed')
        delayMs = Math.min(delayMs * 2, RETRY_MAX_MS)
      }
    }
  }
}
