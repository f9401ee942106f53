import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * When an administrator disabled a user (null: enabled). A disabled user's keys and sign-ins
 * stop working and nothing of theirs is removed, so enabling them again gives everything back.
 */
export const userDisabled: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('users').addColumn('disabled_at', 'text').execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('users').dropColumn('disabled_at').execute()
  },
}
