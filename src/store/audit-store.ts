import type { Generated, Insertable, Kysely, Selectable } from 'kysely'
import type { Database } from './schema.js'

/** One write request to the API: who made it, what it was, on which instance, and its answer. */
export interface AuditLogTable {
  id: Generated<number>
  created_at: string
  user_id: string
  /** `api_key`, `web_session` or `instance` (a call through an instance's door). */
  actor: string
  /** The key, web session or instance that made the call. */
  actor_id: string
  /** The route's operationId (`files.write`), or `METHOD /route` when it has none. */
  action: string
  method: string
  route: string
  instance_id: string | null
  status: number
  /** The client's IP address; null for a call through an instance's door (a Unix socket). */
  ip: string | null
}

export type AuditRow = Selectable<AuditLogTable>
export type NewAuditRow = Insertable<AuditLogTable>

export interface AuditQuery {
  userId: string
  instanceId?: string
  /** Only entries with an id below this one (paging back). */
  before?: number
  limit: number
}

export interface AuditStore {
  /** Inserts many entries in one statement. */
  insert(rows: NewAuditRow[]): Promise<void>
  /** A user's entries, newest first. */
  list(q: AuditQuery): Promise<AuditRow[]>
  /** Removes the entries made before `before` (an ISO time); returns how many. */
  prune(before: string): Promise<number>
}

/** The audit store over the main database's Kysely instance. */
export function kyselyAuditStore(base: Kysely<Database>): AuditStore {
  const db = base.withTables<{ audit_log: AuditLogTable }>()
  return {
    async insert(rows) {
      if (rows.length) await db.insertInto('audit_log').values(rows).execute()
    },
    list(q) {
      let query = db.selectFrom('audit_log').selectAll().where('user_id', '=', q.userId)
      if (q.instanceId) query = query.where('instance_id', '=', q.instanceId)
      if (q.before !== undefined) query = query.where('id', '<', q.before)
      return query.orderBy('id', 'desc').limit(q.limit).execute()
    },
    async prune(before) {
      const res = await db.deleteFrom('audit_log').where('created_at', '<', before).executeTakeFirst()
      return Number(res.numDeletedRows)
    },
  }
}
