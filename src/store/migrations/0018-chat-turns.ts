import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * The running chat turns and the replica that runs each: one row per session at most (so at
 * most one turn runs on it anywhere), kept fresh by its owner's heartbeat; a stale one is a
 * dead owner's turn, found by heartbeat. Deleting a session removes its row.
 */
export const chatTurns: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('chat_turns')
      .addColumn('session_id', 'text', (c) =>
        c.primaryKey().references('chat_sessions.id').onDelete('cascade'),
      )
      .addColumn('instance_id', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('heartbeat_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('chat_turns_owner').on('chat_turns').columns(['owner']).execute()
    await db.schema.createIndex('chat_turns_heartbeat').on('chat_turns').columns(['heartbeat_at']).execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('chat_turns').execute()
  },
}
