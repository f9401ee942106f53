import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { serialKey } from './columns.js'

/** Per-user model settings (the provider key encrypted) and token usage per instance and user. */
export const modelSettings: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('user_settings')
      .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
      .addColumn('llm_base_url', 'text')
      .addColumn('llm_model', 'text')
      .addColumn('llm_api_key_enc', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('model_usage')
      .addColumn('id', 'integer', serialKey(db))
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
      .addColumn('completion_tokens', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('duration_ms', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('model_usage_instance')
      .on('model_usage')
      .columns(['instance_id', 'created_at'])
      .execute()
    await db.schema
      .createIndex('model_usage_user')
      .on('model_usage')
      .columns(['user_id', 'created_at'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('model_usage').execute()
    await db.schema.dropTable('user_settings').execute()
  },
}
