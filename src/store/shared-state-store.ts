import { type Generated, type Insertable, type Kysely, type Selectable, sql } from 'kysely'
import type { Database } from './schema.js'

/** A WebSocket ticket, stored by the SHA-256 of its secret. */
export interface WsTicketsTable {
  /** Issue order. */
  seq: Generated<number>
  hash: string
  user_id: string
  /** The key, sign-in (`web_...`) or instance door (`instance:...`) that issued it. */
  key_id: string
  /** Set when an instance's own door issued it. */
  caller_instance_id: string | null
  /** The instance whose socket it opens. */
  instance_id: string
  created_at_ms: number
  expires_at_ms: number
}

/** A fixed-window counter: `count` hits since the window began, until `reset_at_ms`. */
export interface RateCountersTable {
  key: string
  count: number
  reset_at_ms: number
}

/** One sign-in throttling record (a pair, a bucket or a known address), JSON, with its expiry. */
export interface SignInStateTable {
  key: string
  value: string
  expires_at_ms: number
}

export type WsTicketRow = Selectable<WsTicketsTable>
export type NewWsTicket = Insertable<WsTicketsTable>

/** State replicas share: what one process would otherwise keep in memory and another contradict. */
export interface SharedStateStore {
  tickets: {
    insert(row: NewWsTicket): Promise<void>
    /** Deletes and returns the ticket if it has not expired at `nowMs`; atomic, so it is used once. */
    consume(hash: string, nowMs: number): Promise<WsTicketRow | undefined>
    /** Drops expired tickets, and this user's oldest beyond the newest `keep`. */
    prune(userId: string, keep: number, nowMs: number): Promise<void>
  }
  rateCounters: {
    /**
     * Counts one hit of `key` in its window, starting a fresh window of `windowMs` when there is
     * none or it has ended; atomic across replicas. Returns the count and when the window ends.
     */
    hit(key: string, windowMs: number, nowMs: number): Promise<{ count: number; resetAtMs: number }>
    /** Deletes counters whose window ended by `nowMs`. */
    prune(nowMs: number): Promise<void>
  }
  signIn: {
    /** The records of these keys that have not expired at `nowMs`. */
    get(keys: string[], nowMs: number): Promise<Map<string, string>>
    /** Inserts or replaces records. */
    put(rows: SignInStateTable[]): Promise<void>
    remove(key: string): Promise<void>
    prune(nowMs: number): Promise<void>
  }
}

type Tables = {
  ws_tickets: WsTicketsTable
  rate_counters: RateCountersTable
  sign_in_state: SignInStateTable
}

export function kyselySharedStateStore(base: Kysely<Database>): SharedStateStore {
  const db = base.withTables<Tables>()
  return {
    tickets: {
      insert: async (row) => {
        await db.insertInto('ws_tickets').values(row).execute()
      },
      // DELETE ... RETURNING: of two replicas redeeming one ticket at once, only one gets the row.
      consume: (hash, nowMs) =>
        db
          .deleteFrom('ws_tickets')
          .where('hash', '=', hash)
          .where('expires_at_ms', '>', nowMs)
          .returningAll()
          .executeTakeFirst(),
      prune: async (userId, keep, nowMs) => {
        await db.deleteFrom('ws_tickets').where('expires_at_ms', '<=', nowMs).execute()
        await db
          .deleteFrom('ws_tickets')
          .where('user_id', '=', userId)
          .where(
            'hash',
            'not in',
            db
              .selectFrom('ws_tickets')
              .select('hash')
              .where('user_id', '=', userId)
              .orderBy('seq', 'desc')
              .limit(keep),
          )
          .execute()
      },
    },
    rateCounters: {
      hit: async (key, windowMs, nowMs) => {
        const resetAtMs = nowMs + windowMs
        const ended = sql<boolean>`rate_counters.reset_at_ms <= ${nowMs}`
        const row = await db
          .insertInto('rate_counters')
          .values({ key, count: 1, reset_at_ms: resetAtMs })
          .onConflict((oc) =>
            oc.column('key').doUpdateSet({
              count: sql<number>`case when ${ended} then 1 else rate_counters.count + 1 end`,
              reset_at_ms: sql<number>`case when ${ended} then ${resetAtMs} else rate_counters.reset_at_ms end`,
            }),
          )
          .returning(['count', 'reset_at_ms'])
          .executeTakeFirstOrThrow()
        return { count: Number(row.count), resetAtMs: Number(row.reset_at_ms) }
      },
      prune: async (nowMs) => {
        await db.deleteFrom('rate_counters').where('reset_at_ms', '<=', nowMs).execute()
      },
    },
    signIn: {
      get: async (keys, nowMs) => {
        if (keys.length === 0) return new Map()
        const rows = await db
          .selectFrom('sign_in_state')
          .select(['key', 'value'])
          .where('key', 'in', keys)
          .where('expires_at_ms', '>', nowMs)
          .execute()
        return new Map(rows.map((r) => [r.key, r.value]))
      },
      put: async (rows) => {
        for (const row of rows) {
          await db
            .insertInto('sign_in_state')
            .values(row)
            .onConflict((oc) =>
              oc.column('key').doUpdateSet({ value: row.value, expires_at_ms: row.expires_at_ms }),
            )
            .execute()
        }
      },
      remove: async (key) => {
        await db.deleteFrom('sign_in_state').where('key', '=', key).execute()
      },
      prune: async (nowMs) => {
        await db.deleteFrom('sign_in_state').where('expires_at_ms', '<=', nowMs).execute()
      },
    },
  }
}
