import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * Automation: who sent a chat message (`from_instance`), the durable inbox between instances,
 * swarms and their members, pipelines and their runs. Rows of an instance go with it.
 */
export const automation: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('chat_messages').addColumn('from_instance', 'text').execute()
    await db.schema
      .createTable('inbox_messages')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
      .addColumn('from_instance', 'text')
      .addColumn('sender', 'text', (c) => c.notNull())
      .addColumn('reply_to', 'text')
      .addColumn('in_reply_to', 'text')
      .addColumn('correlation_id', 'text')
      .addColumn('idempotency_key', 'text')
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('session_id', 'text')
      .addColumn('reply', 'text')
      .addColumn('error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('delivered_at', 'text')
      .addColumn('replied_at', 'text')
      .addUniqueConstraint('inbox_messages_idempotency', ['target_id', 'idempotency_key'])
      .execute()
    await db.schema
      .createIndex('inbox_messages_due')
      .on('inbox_messages')
      .columns(['status', 'next_attempt_at'])
      .execute()
    await db.schema
      .createTable('inbox_sessions')
      .addColumn('instance_id', 'text', (c) => c.primaryKey().references('instances.id').onDelete('cascade'))
      .addColumn('session_id', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('swarms')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('swarm_members')
      .addColumn('instance_id', 'text', (c) => c.primaryKey().references('instances.id').onDelete('cascade'))
      .addColumn('swarm_id', 'text', (c) => c.notNull().references('swarms.id').onDelete('cascade'))
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('role', 'text')
      .addColumn('instructions', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('pipelines')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('schedule', 'text')
      .addColumn('next_run_at', 'text')
      .addColumn('webhook_hash', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('pipeline_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('pipeline_id', 'text', (c) => c.notNull().references('pipelines.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('trigger', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('input', 'text', (c) => c.notNull())
      .addColumn('steps', 'text', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text')
      .addColumn('finished_at', 'text')
      .execute()
    await db.schema
      .createIndex('pipeline_runs_pipeline')
      .on('pipeline_runs')
      .columns(['pipeline_id', 'created_at'])
      .execute()
  },
  async down(db: Kysely<unknown>) {
    for (const t of [
      'pipeline_runs',
      'pipelines',
      'swarm_members',
      'swarms',
      'inbox_sessions',
      'inbox_messages',
    ])
      await db.schema.dropTable(t).execute()
    await db.schema.alterTable('chat_messages').dropColumn('from_instance').execute()
  },
}
