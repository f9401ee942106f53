import { type Kysely, sql } from 'kysely'
import type { Migration } from 'kysely/migration'
import { isPostgres, serialKey } from './columns.js'

const COLUMNS = sql.raw(
  'id, created_at, user_id, actor, actor_id, action, method, route, instance_id, status',
)

/** The audit log as 0006 made it, with `ip` NOT NULL or nullable. */
async function createAuditTable(db: Kysely<unknown>, name: string, ipNullable: boolean): Promise<void> {
  await db.schema
    .createTable(name)
    .addColumn('id', 'integer', serialKey(db))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('route', 'text', (c) => c.notNull())
    .addColumn('instance_id', 'text')
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => (ipNullable ? c : c.notNull().defaultTo(sql`''`)))
    .execute()
}

async function createIndexes(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('audit_log_user').on('audit_log').columns(['user_id', 'id']).execute()
  await db.schema
    .createIndex('audit_log_instance')
    .on('audit_log')
    .columns(['user_id', 'instance_id', 'id'])
    .execute()
  await db.schema.createIndex('audit_log_created').on('audit_log').column('created_at').execute()
}

/**
 * A call through an instance's door has no network address (it came over a Unix socket; its
 * actor names the instance): the address becomes nullable. SQLite cannot drop NOT NULL in place,
 * so the table is rebuilt with its rows and indexes; PostgreSQL alters the column.
 */
export const auditAddress: Migration = {
  async up(db: Kysely<unknown>) {
    if (isPostgres(db)) {
      await db.schema
        .alterTable('audit_log')
        .alterColumn('ip', (c) => c.dropNotNull())
        .execute()
      await sql`UPDATE audit_log SET ip = NULL WHERE ip = ''`.execute(db)
      await db.schema
        .alterTable('audit_log')
        .alterColumn('ip', (c) => c.dropDefault())
        .execute()
      return
    }
    await createAuditTable(db, 'audit_log_next', true)
    await sql`INSERT INTO audit_log_next (${COLUMNS}, ip) SELECT ${COLUMNS}, NULLIF(ip, '') FROM audit_log`.execute(
      db,
    )
    await db.schema.dropTable('audit_log').execute()
    await db.schema.alterTable('audit_log_next').renameTo('audit_log').execute()
    await createIndexes(db)
  },
  async down(db: Kysely<unknown>) {
    if (isPostgres(db)) {
      await sql`UPDATE audit_log SET ip = '' WHERE ip IS NULL`.execute(db)
      await db.schema
        .alterTable('audit_log')
        .alterColumn('ip', (c) => c.setDefault(''))
        .execute()
      await db.schema
        .alterTable('audit_log')
        .alterColumn('ip', (c) => c.setNotNull())
        .execute()
      return
    }
    await createAuditTable(db, 'audit_log_prev', false)
    await sql`INSERT INTO audit_log_prev (${COLUMNS}, ip) SELECT ${COLUMNS}, COALESCE(ip, '') FROM audit_log`.execute(
      db,
    )
    await db.schema.dropTable('audit_log').execute()
    await db.schema.alterTable('audit_log_prev').renameTo('audit_log').execute()
    await createIndexes(db)
  },
}
