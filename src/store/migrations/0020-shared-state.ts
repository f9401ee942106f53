import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { isPostgres, serialKey } from './columns.js'

/**
 * State every replica must see alike: WebSocket tickets (hashed, single use), fixed-window rate
 * counters, and sign-in throttling records. Times are epoch milliseconds, so windows and waits
 * are plain arithmetic in SQL.
 */
export const sharedState: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('ws_tickets')
      // Issue order, to drop a user's oldest; bigint on PostgreSQL, where tickets churn for years.
      .addColumn('seq', isPostgres(db) ? 'bigint' : 'integer', serialKey(db))
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('caller_instance_id', 'text')
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('ws_tickets_user').on('ws_tickets').columns(['user_id', 'seq']).execute()
    await db.schema.createIndex('ws_tickets_expiry').on('ws_tickets').columns(['expires_at_ms']).execute()
    await db.schema
      .createTable('rate_counters')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('count', 'bigint', (c) => c.notNull())
      .addColumn('reset_at_ms', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('rate_counters_reset').on('rate_counters').columns(['reset_at_ms']).execute()
    await db.schema
      .createTable('sign_in_state')
      .addColumn('key', 'text', (c) => c.primaryKey())
      // JSON: a pair's failures and block, a bucket's tokens, or a known address's mark.
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('sign_in_state_expiry')
      .on('sign_in_state')
      .columns(['expires_at_ms'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    for (const t of ['sign_in_state', 'rate_counters', 'ws_tickets']) await db.schema.dropTable(t).execute()
  },
}
