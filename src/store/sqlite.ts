import fs from 'node:fs'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { Migrator } from 'kysely/migration'
import { KyselyStore } from './kysely-store.js'
import { migrationProvider } from './migrations/index.js'
import type { Database } from './schema.js'

/** Opens (and migrates) the embedded SQLite store in the data folder. */
export async function openSqliteStore(dataDir: string): Promise<KyselyStore> {
  fs.mkdirSync(dataDir, { recursive: true })
  const file = path.join(dataDir, 'clawport.db')
  const sqlite = new SQLite(file)
  fs.chmodSync(file, 0o600)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('synchronous = NORMAL')
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) })
  const migrator = new Migrator({ db, provider: migrationProvider })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error || failed) {
    await db.destroy()
    throw new Error(`store migration ${failed?.migrationName ?? ''} failed: ${String(error)}`)
  }
  return new KyselyStore(db)
}
