import { type Kysely, sql } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * What an instance's sandbox may reach (`public` or `off`), and the most a plan's instances may
 * have. Instances made before had no network, so they keep none; plans are written again from
 * CLAWPORT_PLANS at every start, and one no longer listed there allows none.
 */
export const instanceNetwork: Migration = {
  async up(db: Kysely<unknown>) {
    for (const table of ['instances', 'plans']) {
      await db.schema
        .alterTable(table)
        .addColumn('network', 'text', (c) => c.notNull().defaultTo(sql`'off'`))
        .execute()
    }
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['instances', 'plans'])
      await db.schema.alterTable(table).dropColumn('network').execute()
  },
}
