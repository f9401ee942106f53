import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { KyselyStore } from './kysely-store.js'
import { migrateToLatest } from './migrations/index.js'
import type { Database } from './schema.js'

/** Connections each replica keeps to PostgreSQL for store calls (LISTEN and locks hold their own). */
const POOL_SIZE = 10

// COUNT and SUM are bigint/numeric in PostgreSQL, returned as text by default; every count the
// store returns fits a double, so they are parsed as numbers (as SQLite gives them).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v))

/** A pool of connections to the replicas' shared PostgreSQL. */
export function openPgPool(url: string, max = POOL_SIZE): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 30_000 })
  // An idle connection the server drops (restart, failover) must not crash the process; the
  // pool replaces it on next use.
  pool.on('error', () => {})
  return pool
}

/**
 * Opens (and migrates) the store on PostgreSQL. Kysely's migrator takes an advisory lock, so
 * replicas starting together migrate once; the others wait and find nothing left to do.
 */
export async function openPostgresStore(url: string): Promise<KyselyStore> {
  const pool = openPgPool(url)
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  try {
    await db.selectNoFrom((e) => e.lit(1).as('ok')).execute()
  } catch (err) {
    await db.destroy()
    throw new Error(`cannot reach PostgreSQL at ${redactUrl(url)}: ${(err as Error).message}`)
  }
  await migrateToLatest(db)
  return new KyselyStore(db, async () => db.destroy(), 'postgres')
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return 'postgres://(unparsable URL)'
  }
}
