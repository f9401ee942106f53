import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * The chat channels (Telegram, ...) an instance's OpenClaw connects to: one row per instance
 * and channel, its settings as JSON and its token sealed. Deleting an instance removes them.
 */
export const instanceChannels: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('instance_channels')
      .addColumn('instance_id', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('settings', 'text', (c) => c.notNull())
      .addColumn('secret_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('instance_channels_pk', ['instance_id', 'name'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('instance_channels').execute()
  },
}
