import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/** A user's own embedding model (memory search), served at their model's URL with its key. */
export const embeddingModel: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('user_settings').addColumn('llm_embedding_model', 'text').execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('user_settings').dropColumn('llm_embedding_model').execute()
  },
}
