import { type ColumnDefinitionBuilder, type Kysely, PostgresAdapter } from 'kysely'

/** Whether migrations run on PostgreSQL (true) or SQLite. */
export function isPostgres(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter
}

/**
 * An integer primary key numbered by the database: SQLite's AUTOINCREMENT (its DDL unchanged
 * from the migrations that shipped) or a PostgreSQL identity column.
 */
export function serialKey(db: Kysely<unknown>): (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder {
  return isPostgres(db)
    ? (c) => c.primaryKey().generatedByDefaultAsIdentity()
    : (c) => c.primaryKey().autoIncrement()
}
