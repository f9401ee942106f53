import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/** Dashboard sign-in sessions: only hashes of the cookie and CSRF secrets are stored. */
export const webSessions: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('web_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('csrf_hash', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_seen_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('web_sessions_user').on('web_sessions').column('user_id').execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('web_sessions').execute()
  },
}
