import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * The plan an instance was created under: its resources follow that plan when it starts again
 * (an operator raising a plan's disk or memory reaches existing instances at their next start).
 * Null for instances made before, and for warm ones not yet handed out.
 */
export const instancePlan: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('instances').addColumn('plan', 'text').execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('instances').dropColumn('plan').execute()
  },
}
