import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/** Old audit entries are removed by age: an index on their time keeps that cheap. */
export const auditRetention: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('audit_log_created').on('audit_log').column('created_at').execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('audit_log_created').execute()
  },
}
