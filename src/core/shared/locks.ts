import os from 'node:os'
import type pg from 'pg'
import type { Config } from '../../config.js'
import type { Logger } from '../../log.js'

/** How often a replica that does not lead tries again, and how often a held lock's connection is checked. */
const RETRY_MS = 3_000
/** The key space of session locks, apart from the store's transaction locks (`store.lock`). */
const KEY_PREFIX = 'clawport:session:'

/**
 * Work of which one replica at a time is in charge. What `onLead` starts runs while this process
 * holds the lock, and is stopped when it loses it (its holder's connection died); a process that
 * does not hold it keeps trying every few seconds.
 */
export interface Leadership {
  readonly name: string
  isLeader(): boolean
  /**
   * Runs `begin` each time this process becomes the leader (now, if it already is); the function
   * `begin` returns runs when that leadership ends. Returns a function that stops both.
   */
  onLead(begin: () => (() => void) | undefined): () => void
  /** Lets the lock go (another replica may take it) and stops trying. */
  release(): Promise<void>
}

/** Named locks shared by every replica: leaderships, and work that must not run twice at once. */
export interface Locks {
  /** Takes part in the election for `name`; resolves once the first try is answered. */
  leader(name: string): Promise<Leadership>
  /** Runs fn only if nobody (in this process or another) holds `name` now; false when it did not run. */
  tryRun(name: string, fn: () => Promise<void>): Promise<boolean>
  /** Releases everything held. */
  close(): Promise<void>
}

/** The leadership over one host's instances: the replicas sharing its data folder elect one. */
export function hostLockName(config: Pick<Config, 'dataDir'>): string {
  return `host:${os.hostname()}:${config.dataDir}`
}

/** The one factory: in-process locks for one server, PostgreSQL session locks for replicas. */
export async function createLocks(config: Pick<Config, 'store' | 'replicaId'>, log: Logger): Promise<Locks> {
  switch (config.store.kind) {
    case 'sqlite':
      return new MemoryLocks()
    case 'postgres': {
      if (!config.store.databaseUrl) throw new Error('the postgres store needs CLAWPORT_DATABASE_URL')
      const { default: pgModule } = await import('pg')
      return new PgLocks(pgModule, config.store.databaseUrl, config.replicaId, log)
    }
    default: {
      const never: never = config.store.kind
      throw new Error(`unknown store ${String(never)}`)
    }
  }
}

/** What a leadership has started: each `begin` with the stop of its current term. */
class Terms implements Leadership {
  private leading = false
  private readonly begins = new Map<() => (() => void) | undefined, (() => void) | undefined>()

  constructor(
    readonly name: string,
    private readonly onRelease: (t: Terms) => Promise<void>,
    private readonly log?: Logger,
  ) {}

  isLeader(): boolean {
    return this.leading
  }

  onLead(begin: () => (() => void) | undefined): () => void {
    this.begins.set(begin, this.leading ? this.run(begin) : undefined)
    return () => {
      this.end(this.begins.get(begin))
      this.begins.delete(begin)
    }
  }

  release(): Promise<void> {
    return this.onRelease(this)
  }

  /** Called by the lock's owner when this process gains or loses it. */
  set(leading: boolean): void {
    if (leading === this.leading) return
    this.leading = leading
    this.log?.info({ lock: this.name }, leading ? 'leading' : 'no longer leading')
    for (const [begin, stop] of this.begins) {
      if (leading) this.begins.set(begin, this.run(begin))
      else {
        this.end(stop)
        this.begins.set(begin, undefined)
      }
    }
  }

  private run(begin: () => (() => void) | undefined): (() => void) | undefined {
    try {
      return begin()
    } catch (err) {
      this.log?.error({ err, lock: this.name }, 'leader work did not start')
      return undefined
    }
  }

  private end(stop: (() => void) | undefined): void {
    try {
      stop?.()
    } catch (err) {
      this.log?.error({ err, lock: this.name }, 'leader work did not stop')
    }
  }
}

/** Locks of one process (SQLite, one server): a leadership is taken at once unless held here. */
export class MemoryLocks implements Locks {
  private readonly held = new Set<string>()
  /** Leaderships waiting for a name held by another one, in order. */
  private readonly waiting = new Map<string, Terms[]>()

  async leader(name: string): Promise<Leadership> {
    const t = new Terms(name, async (self) => this.releaseTerms(self))
    if (this.held.has(name)) this.waiting.set(name, [...(this.waiting.get(name) ?? []), t])
    else {
      this.held.add(name)
      t.set(true)
    }
    return t
  }

  async tryRun(name: string, fn: () => Promise<void>): Promise<boolean> {
    if (this.held.has(name)) return false
    this.held.add(name)
    try {
      await fn()
    } finally {
      this.handOn(name)
    }
    return true
  }

  async close(): Promise<void> {
    this.waiting.clear()
    this.held.clear()
  }

  private releaseTerms(t: Terms): void {
    const queue = this.waiting.get(t.name) ?? []
    if (queue.includes(t)) {
      this.waiting.set(
        t.name,
        queue.filter((q) => q !== t),
      )
      return
    }
    if (!t.isLeader()) return
    t.set(false)
    this.handOn(t.name)
  }

  /** Gives a freed name to the first leadership waiting for it. */
  private handOn(name: string): void {
    const [next, ...rest] = this.waiting.get(name) ?? []
    if (!next) {
      this.held.delete(name)
      return
    }
    this.waiting.set(name, rest)
    next.set(true)
  }
}

/**
 * Session advisory locks (`pg_try_advisory_lock`) on one connection of their own: the database
 * releases them when that connection ends, so a replica killed with SIGKILL leaves its
 * leaderships to the others within a retry. The connection is checked every retry; once lost,
 * every leadership here ends at once (the others may already hold them) and is tried for again.
 */
export class PgLocks implements Locks {
  private client?: pg.Client
  private connecting?: Promise<pg.Client>
  private readonly leaderships = new Map<string, Terms>()
  /** Names held by this process (session locks are reentrant: the same session would get one twice). */
  private readonly held = new Set<string>()
  private readonly timer: NodeJS.Timeout
  private ticking = false
  private closed = false

  constructor(
    private readonly pgModule: typeof pg,
    private readonly url: string,
    replicaId: string,
    private readonly log: Logger,
    private readonly retryMs = RETRY_MS,
    /** Shown in pg_stat_activity, so an operator sees whose locks a connection holds. */
    private readonly applicationName = `clawport-locks ${replicaId}`.slice(0, 63),
  ) {
    this.timer = setInterval(() => void this.tick(), retryMs)
    this.timer.unref()
  }

  async leader(name: string): Promise<Leadership> {
    if (this.leaderships.has(name))
      throw new Error(`this process already takes part in the election for ${name}`)
    const t = new Terms(name, (self) => this.releaseTerms(self), this.log)
    this.leaderships.set(name, t)
    await this.tryLead(t)
    return t
  }

  async tryRun(name: string, fn: () => Promise<void>): Promise<boolean> {
    if (this.held.has(name) || this.closed) return false
    this.held.add(name)
    let client: pg.Client
    try {
      client = await this.connection()
      if (!(await this.tryLock(client, name))) {
        this.held.delete(name)
        return false
      }
    } catch (err) {
      this.held.delete(name)
      throw err
    }
    try {
      await fn()
    } finally {
      this.held.delete(name)
      await this.unlock(client, name)
    }
    return true
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    for (const t of this.leaderships.values()) t.set(false)
    this.leaderships.clear()
    this.held.clear()
    const client = this.client
    this.client = undefined
    // Ending the session releases every lock it holds.
    await client?.end().catch(() => {})
  }

  /** Keeps the connection checked and tries again for every leadership not held. */
  private async tick(): Promise<void> {
    if (this.ticking || this.closed || this.leaderships.size === 0) return
    this.ticking = true
    try {
      const client = await this.connection()
      await client.query('select 1')
      for (const t of this.leaderships.values()) if (!t.isLeader()) await this.tryLead(t)
    } catch (err) {
      this.log.warn({ err }, 'lock connection check failed')
      if (this.client) this.lost(this.client)
    } finally {
      this.ticking = false
    }
  }

  private async tryLead(t: Terms): Promise<void> {
    if (this.held.has(t.name)) return
    this.held.add(t.name)
    let ok = false
    try {
      const client = await this.connection()
      ok = await this.tryLock(client, t.name)
      // Released while the answer was on its way.
      if (ok && this.leaderships.get(t.name) !== t) {
        await this.unlock(client, t.name)
        ok = false
      }
    } catch (err) {
      this.log.warn({ err, lock: t.name }, 'lock not tried: no connection')
    } finally {
      if (!ok) this.held.delete(t.name)
    }
    if (ok) t.set(true)
  }

  private async releaseTerms(t: Terms): Promise<void> {
    if (this.leaderships.get(t.name) !== t) return
    this.leaderships.delete(t.name)
    if (!t.isLeader()) return
    t.set(false)
    this.held.delete(t.name)
    if (this.client) await this.unlock(this.client, t.name)
  }

  private async tryLock(client: pg.Client, name: string): Promise<boolean> {
    const r = await client.query<{ ok: boolean }>(
      'select pg_try_advisory_lock(hashtextextended($1, 0)) as ok',
      [KEY_PREFIX + name],
    )
    return r.rows[0]?.ok === true
  }

  private async unlock(client: pg.Client, name: string): Promise<void> {
    if (client !== this.client) return // that session is gone, and its locks with it
    await client
      .query('select pg_advisory_unlock(hashtextextended($1, 0))', [KEY_PREFIX + name])
      .catch((err: unknown) => this.log.warn({ err, lock: name }, 'lock not released'))
  }

  /** The locks' own connection, opened on first use and again after it was lost. */
  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client)
    if (this.closed) return Promise.reject(new Error('the locks are closed'))
    this.connecting ??= (async () => {
      const client = new this.pgModule.Client({
        connectionString: this.url,
        application_name: this.applicationName,
        keepAlive: true,
        connectionTimeoutMillis: this.retryMs * 2,
        query_timeout: this.retryMs * 2,
      })
      client.on('error', (err) => {
        this.log.warn({ err }, 'lock connection failed')
        this.lost(client)
      })
      client.on('end', () => this.lost(client))
      try {
        await client.connect()
      } catch (err) {
        client.removeAllListeners('end')
        throw err
      }
      if (this.closed) {
        await client.end().catch(() => {})
        throw new Error('the locks are closed')
      }
      this.client = client
      return client
    })().finally(() => {
      this.connecting = undefined
    })
    return this.connecting
  }

  /** The session ended: every lock it held is gone, so every leadership here ends. */
  private lost(client: pg.Client): void {
    if (client !== this.client) return
    this.client = undefined
    void client.end().catch(() => {})
    this.held.clear()
    for (const t of this.leaderships.values()) t.set(false)
  }
}
