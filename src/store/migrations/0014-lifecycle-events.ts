import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { serialKey } from './columns.js'

/**
 * Lifecycle events of instances (read per instance after a cursor), the owners' webhooks and
 * the queue of their deliveries (due ones found by status and time, a webhook's log newest first).
 */
export const lifecycleEvents: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('instance_events')
      .addColumn('cursor', 'integer', serialKey(db))
      // No foreign key: the `deleted` event outlives its instance's row until it is handed on.
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('instance_events_instance')
      .on('instance_events')
      .columns(['instance_id', 'cursor'])
      .execute()
    await db.schema
      .createTable('webhooks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('events', 'text', (c) => c.notNull())
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('webhooks_user').on('webhooks').columns(['user_id']).execute()
    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('webhook_id', 'text', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
      .addColumn('event_cursor', 'integer', (c) => c.notNull())
      .addColumn('event_type', 'text', (c) => c.notNull())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('last_status', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('delivered_at', 'text')
      .execute()
    await db.schema
      .createIndex('webhook_deliveries_due')
      .on('webhook_deliveries')
      .columns(['status', 'next_attempt_at'])
      .execute()
    await db.schema
      .createIndex('webhook_deliveries_webhook')
      .on('webhook_deliveries')
      .columns(['webhook_id', 'created_at'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    for (const t of ['webhook_deliveries', 'webhooks', 'instance_events'])
      await db.schema.dropTable(t).execute()
  },
}
