import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * The instance whose door started a pipeline run: the run reaches only what that instance may
 * (its swarm, for a swarm member), also when it is resumed after a restart. Null for runs started
 * with a key, by the schedule or by the webhook.
 */
export const runScope: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('pipeline_runs').addColumn('scope_instance_id', 'text').execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('pipeline_runs').dropColumn('scope_instance_id').execute()
  },
}
