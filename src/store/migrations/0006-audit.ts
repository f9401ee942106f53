import { type Kysely, sql } from 'kysely'
import type { Migration } from 'kysely/migration'
import { serialKey } from './columns.js'

/** The audit log of write requests, read per user newest first (optionally per instance). */
export const audit: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('audit_log')
      .addColumn('id', 'integer', serialKey(db))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('route', 'text', (c) => c.notNull())
      // No foreign key: the entries of a deleted instance stay, they are the record of it.
      .addColumn('instance_id', 'text')
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('ip', 'text', (c) => c.notNull().defaultTo(sql`''`))
      .execute()
    await db.schema.createIndex('audit_log_user').on('audit_log').columns(['user_id', 'id']).execute()
    await db.schema
      .createIndex('audit_log_instance')
      .on('audit_log')
      .columns(['user_id', 'instance_id', 'id'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('audit_log').execute()
  },
}
