import { type Kysely, type Selectable, sql } from 'kysely'
import type { Database } from './schema.js'

/** A running chat turn: the replica that runs it and when it last said it is alive. */
export interface ChatTurnsTable {
  session_id: string
  instance_id: string
  /** The replica running the turn (its `replicaId`). */
  owner: string
  started_at: string
  heartbeat_at: string
}

export type ChatTurnRow = Selectable<ChatTurnsTable>

/** Who runs each session's turn, across replicas. */
export interface TurnsStore {
  /**
   * Takes the session's turn for `owner`, in one statement: inserts its row, or takes over one
   * whose heartbeat is older than `staleBefore` (its owner is gone). False when a live owner
   * holds it.
   */
  claim(
    turn: { instance_id: string; session_id: string; owner: string; now: string },
    staleBefore: string,
  ): Promise<boolean>
  get(sessionId: string): Promise<ChatTurnRow | undefined>
  /** Refreshes the heartbeat of these sessions' turns that `owner` still holds; returns those. */
  beat(owner: string, sessionIds: string[], now: string): Promise<string[]>
  /** Drops the owner's row of the session (nothing when another owner took it over). */
  release(sessionId: string, owner: string): Promise<void>
  /** Rows whose heartbeat is older than `staleBefore`, oldest first. */
  stale(staleBefore: string): Promise<ChatTurnRow[]>
  /** The cursor of the session's last `session` event when no `done` or `error` follows it. */
  openTurn(sessionId: string): Promise<number | undefined>
}

export function kyselyTurnsStore(base: Kysely<Database>): TurnsStore {
  const db = base.withTables<{ chat_turns: ChatTurnsTable }>()
  return {
    claim: async (turn, staleBefore) => {
      const row = {
        session_id: turn.session_id,
        instance_id: turn.instance_id,
        owner: turn.owner,
        started_at: turn.now,
        heartbeat_at: turn.now,
      }
      // The upsert's condition is checked on the row as it is when the statement locks it, so
      // of two replicas taking over one stale turn only the first does.
      const r = await db
        .insertInto('chat_turns')
        .values(row)
        .onConflict((oc) =>
          oc
            .column('session_id')
            .doUpdateSet({
              instance_id: row.instance_id,
              owner: row.owner,
              started_at: row.started_at,
              heartbeat_at: row.heartbeat_at,
            })
            .where('chat_turns.heartbeat_at', '<', staleBefore),
        )
        .returning('session_id')
        .executeTakeFirst()
      return r !== undefined
    },
    get: (sessionId) =>
      db.selectFrom('chat_turns').selectAll().where('session_id', '=', sessionId).executeTakeFirst(),
    beat: async (owner, sessionIds, now) => {
      if (sessionIds.length === 0) return []
      const rows = await db
        .updateTable('chat_turns')
        .set({ heartbeat_at: now })
        .where('owner', '=', owner)
        .where('session_id', 'in', sessionIds)
        .returning('session_id')
        .execute()
      return rows.map((r) => r.session_id)
    },
    release: async (sessionId, owner) => {
      await db
        .deleteFrom('chat_turns')
        .where('session_id', '=', sessionId)
        .where('owner', '=', owner)
        .execute()
    },
    stale: (staleBefore) =>
      db
        .selectFrom('chat_turns')
        .selectAll()
        .where('heartbeat_at', '<', staleBefore)
        .orderBy('heartbeat_at')
        .execute(),
    openTurn: async (sessionId) => {
      const r = await db
        .selectFrom('chat_events')
        .select((eb) => [
          sql<number | null>`max(case when ${eb.ref('type')} = 'session' then ${eb.ref('cursor')} end)`.as(
            'started',
          ),
          sql<number | null>`max(case when ${eb.ref('type')} <> 'session' then ${eb.ref('cursor')} end)`.as(
            'ended',
          ),
        ])
        .where('session_id', '=', sessionId)
        .where('type', 'in', ['session', 'done', 'error'])
        .executeTakeFirst()
      if (r?.started == null) return undefined
      const started = Number(r.started)
      return r.ended == null || started > Number(r.ended) ? started : undefined
    },
  }
}
