import { type Kysely, sql } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * The host names an `allowlist` instance may reach (a JSON array), and a plan's default list.
 * Rows made before have none.
 */
export const allowedHosts: Migration = {
  async up(db: Kysely<unknown>) {
    for (const table of ['instances', 'plans']) {
      await db.schema
        .alterTable(table)
        .addColumn('allowed_hosts', 'text', (c) => c.notNull().defaultTo(sql`'[]'`))
        .execute()
    }
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['instances', 'plans'])
      await db.schema.alterTable(table).dropColumn('allowed_hosts').execute()
  },
}
