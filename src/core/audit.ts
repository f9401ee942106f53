import { z } from 'zod'
import type { Logger } from '../log.js'
import type { AuditRow, NewAuditRow, Store } from '../store/index.js'
import type { Locks } from './shared/locks.js'

/** How long entries wait in memory before one batched insert, and how many force it sooner. */
const FLUSH_MS = 200
const FLUSH_ROWS = 200
/** Past this many unwritten entries (the store is failing), the oldest are dropped and logged. */
const MAX_PENDING = 10_000
/** How often entries past the retention period are removed. */
const PRUNE_EVERY_MS = 60 * 60_000
const DAY_MS = 24 * 60 * 60_000

export const AuditActor = z.enum(['api_key', 'web_session', 'instance'])
export type AuditActor = z.infer<typeof AuditActor>

/** One audited request, as the owner reads it. */
export const AuditEntry = z
  .object({
    id: z.number().int().describe('Increases with time; pass it as `before` to page back'),
    created_at: z.string(),
    user_id: z.string(),
    actor: AuditActor.describe('What authenticated the call'),
    actor_id: z.string().describe('The API key id, web session id or instance id'),
    action: z.string().describe("The route's operationId, e.g. files.write"),
    method: z.string(),
    route: z.string().describe('The route pattern, e.g. /api/instances/:id/files/write'),
    instance_id: z.string().nullable(),
    status: z.number().int().describe('The HTTP status of the answer'),
    ip: z
      .string()
      .nullable()
      .describe("The client's IP address; null for a call from inside an instance (actor_id names it)"),
  })
  .meta({ id: 'AuditEntry' })
export type AuditEntry = z.infer<typeof AuditEntry>

export interface AuditListQuery {
  userId: string
  instanceId?: string
  before?: number
  limit: number
}

function toEntry(r: AuditRow): AuditEntry {
  return { ...r, actor: AuditActor.catch('api_key').parse(r.actor), status: Number(r.status) }
}

/**
 * The audit log. `record` never waits on the store: entries are batched in memory and written
 * together a moment later, so auditing adds no latency to the request it describes.
 */
export class AuditService {
  private pending: NewAuditRow[] = []
  private timer?: NodeJS.Timeout
  private flushing: Promise<void> = Promise.resolve()
  private pruner?: NodeJS.Timeout

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    /** Entries older than this many days are removed; 0 keeps them forever. */
    private readonly retentionDays = 0,
    /** With replicas: one prunes at a time, the others skip that round. */
    private readonly locks?: Locks,
  ) {}

  /** Removes entries past the retention period now, then every hour. */
  startRetention(): void {
    if (this.retentionDays <= 0) return
    const round = () => {
      if (!this.locks) return void this.prune()
      this.locks
        .tryRun('audit:retention', async () => {
          await this.prune()
        })
        .catch((err: unknown) => this.log.warn({ err }, 'audit retention skipped'))
    }
    round()
    this.pruner = setInterval(round, PRUNE_EVERY_MS)
    this.pruner.unref()
  }

  /** Removes the entries older than the retention period; returns how many. */
  async prune(now = Date.now()): Promise<number> {
    if (this.retentionDays <= 0) return 0
    const before = new Date(now - this.retentionDays * DAY_MS).toISOString()
    try {
      const removed = await this.store.audit.prune(before)
      if (removed) this.log.info({ removed, before }, 'old audit entries removed')
      return removed
    } catch (err) {
      this.log.error({ err }, 'audit retention failed')
      return 0
    }
  }

  record(entry: NewAuditRow): void {
    if (this.pending.length >= MAX_PENDING) {
      const dropped = this.pending.shift()
      this.log.error({ entry: dropped }, 'audit entry dropped: the store is not keeping up')
    }
    this.pending.push(entry)
    if (this.pending.length >= FLUSH_ROWS) void this.flush()
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS)
  }

  /** Writes what is pending; resolves once it (and every earlier write) is stored. */
  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const rows = this.pending
    this.pending = []
    this.flushing = this.flushing.then(async () => {
      if (!rows.length) return
      try {
        await this.store.audit.insert(rows)
      } catch (err) {
        if (rows.length === 1) this.lost(rows[0] as NewAuditRow, err)
        else await this.insertOneByOne(rows, err)
      }
    })
    return this.flushing
  }

  /** After a failed batch, each entry on its own: one bad entry never costs the others. */
  private async insertOneByOne(rows: NewAuditRow[], batchErr: unknown): Promise<void> {
    this.log.warn({ err: batchErr, entries: rows.length }, 'audit batch failed, writing entries one by one')
    for (const row of rows) {
      try {
        await this.store.audit.insert([row])
      } catch (err) {
        this.lost(row, err)
      }
    }
  }

  /** An entry the store refused: its content goes to the log, so the record survives there. */
  private lost(entry: NewAuditRow, err: unknown): void {
    this.log.error({ err, entry }, 'audit entry could not be stored')
  }

  /** A user's entries, newest first; pending ones are written first so a reader sees its own. */
  async list(q: AuditListQuery): Promise<AuditEntry[]> {
    await this.flush()
    return (await this.store.audit.list(q)).map(toEntry)
  }

  close(): Promise<void> {
    clearInterval(this.pruner)
    return this.flush()
  }
}
