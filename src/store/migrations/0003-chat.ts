import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * Chat: sessions, their messages (numbered per session) and the events of every turn
 * (numbered per instance: the cursor clients resume from). Deleting an instance removes them.
 */
export const chat: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('chat_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('instance_id', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
      .addColumn('title', 'text')
      .addColumn('session_key', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('last_activity', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('chat_sessions_activity')
      .on('chat_sessions')
      .columns(['instance_id', 'last_activity'])
      .execute()
    await db.schema
      .createTable('chat_messages')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('session_id', 'text', (c) => c.notNull().references('chat_sessions.id').onDelete('cascade'))
      .addColumn('instance_id', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('content', 'text', (c) => c.notNull())
      .addColumn('tool', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('chat_messages_session_seq', ['session_id', 'seq'])
      .execute()
    await db.schema
      .createTable('chat_events')
      .addColumn('instance_id', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
      .addColumn('cursor', 'integer', (c) => c.notNull())
      .addColumn('session_id', 'text', (c) => c.notNull().references('chat_sessions.id').onDelete('cascade'))
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('chat_events_pk', ['instance_id', 'cursor'])
      .execute()
    await db.schema
      .createIndex('chat_events_session')
      .on('chat_events')
      .columns(['session_id', 'cursor'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('chat_events').execute()
    await db.schema.dropTable('chat_messages').execute()
    await db.schema.dropTable('chat_sessions').execute()
  },
}
