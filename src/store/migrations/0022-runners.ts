import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import { isPostgres, serialKey } from './columns.js'

/**
 * Runners: the hosts that run instances, each registered with its endpoint, its TLS certificate's
 * fingerprint (pinned by replicas), its capacity and labels, kept alive by a heartbeat. An
 * instance is pinned to the runner holding its disk (`runner_id`; null: the server's own,
 * in-process runner). Lifecycle work on a runner's instances is a job row the runner claims.
 */
export const runners: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('runners')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('cert_sha256', 'text', (c) => c.notNull())
      .addColumn('cert_pem', 'text', (c) => c.notNull())
      .addColumn('memory_mb', 'integer', (c) => c.notNull())
      .addColumn('max_instances', 'integer', (c) => c.notNull())
      .addColumn('uid_base', 'integer', (c) => c.notNull())
      // JSON object of label names to values.
      .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
      // `active` takes new instances; `draining` keeps its own and takes none.
      .addColumn('state', 'text', (c) => c.notNull().defaultTo('active'))
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('registered_at', 'text', (c) => c.notNull())
      .addColumn('heartbeat_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('runner_jobs')
      .addColumn('id', isPostgres(db) ? 'bigint' : 'integer', serialKey(db))
      .addColumn('runner_id', 'text', (c) => c.notNull().references('runners.id').onDelete('cascade'))
      .addColumn('instance_id', 'text', (c) => c.notNull())
      // provision | start | stop | destroy
      .addColumn('kind', 'text', (c) => c.notNull())
      // JSON: the instance spec, or the stop's grace.
      .addColumn('input', 'text', (c) => c.notNull())
      // queued | claimed | done | failed
      .addColumn('state', 'text', (c) => c.notNull().defaultTo('queued'))
      .addColumn('output', 'text')
      .addColumn('error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('claimed_at', 'text')
      .addColumn('finished_at', 'text')
      .execute()
    await db.schema
      .createIndex('runner_jobs_queue')
      .on('runner_jobs')
      .columns(['runner_id', 'state', 'id'])
      .execute()
    await db.schema.alterTable('instances').addColumn('runner_id', 'text').execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('instances').dropColumn('runner_id').execute()
    await db.schema.dropTable('runner_jobs').execute()
    await db.schema.dropTable('runners').execute()
  },
}
