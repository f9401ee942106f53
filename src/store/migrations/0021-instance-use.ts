import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * When an instance was last used anywhere (epoch milliseconds): replicas sharing a host write
 * the use they saw every few seconds, so the leader's idle sweep counts use on every replica.
 * Null: none recorded (one process keeps it in memory only).
 */
export const instanceUse: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('instances').addColumn('last_used_at', 'bigint').execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('instances').dropColumn('last_used_at').execute()
  },
}
