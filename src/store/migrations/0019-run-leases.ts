import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * Leases for work that one replica does at a time: a pipeline run and an inbox delivery name the
 * replica executing them and until when (renewed by its heartbeat); another replica takes over
 * only once the lease has expired. `warm_at` marks a pooled instance warm (ready and warmed up),
 * so that a create on any replica can claim it.
 */
export const runLeases: Migration = {
  async up(db: Kysely<unknown>) {
    for (const table of ['pipeline_runs', 'inbox_messages']) {
      await db.schema.alterTable(table).addColumn('lease_owner', 'text').execute()
      await db.schema.alterTable(table).addColumn('lease_expires_at', 'text').execute()
    }
    await db.schema.alterTable('instances').addColumn('warm_at', 'text').execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('instances').dropColumn('warm_at').execute()
    for (const table of ['pipeline_runs', 'inbox_messages']) {
      await db.schema.alterTable(table).dropColumn('lease_expires_at').execute()
      await db.schema.alterTable(table).dropColumn('lease_owner').execute()
    }
  },
}
