import fs from 'node:fs'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, type SqliteDatabase, SqliteDialect } from 'kysely'
import { KyselyStore } from './kysely-store.js'
import { migrateToLatest } from './migrations/index.js'
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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) })
  await migrateToLatest(db)
  return new KyselyStore(db, async () => db.destroy(), 'sqlite')
}

/** Distinct SQL texts whose prepared statements are kept (queries are built, not concatenated). */
const STATEMENT_CACHE_SIZE = 500

/**
 * Kysely prepares every query afresh; on a busy server that preparing was the store's largest
 * cost. Statements are kept by SQL text (least recently used dropped first); one still being
 * iterated is busy, so a second user gets a fresh statement.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>()
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      const hit = cache.get(text)
      if (hit && !hit.busy) {
        cache.delete(text)
        cache.set(text, hit)
        return hit
      }
      const stmt = sqlite.prepare(text)
      if (hit) return stmt
      cache.set(text, stmt)
      if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string)
      return stmt
    },
  }
}
