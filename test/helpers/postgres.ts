import crypto from 'node:crypto'
import pg from 'pg'

/**
 * The PostgreSQL the tests may use: CLAWPORT_TEST_DATABASE_URL names a role that may create
 * databases (scripts/test.sh starts Debian's cluster and sets it). Without it, PostgreSQL tests
 * are skipped with this reason printed.
 */
export const TEST_DATABASE_URL = process.env.CLAWPORT_TEST_DATABASE_URL
export const PG_SKIP_REASON = TEST_DATABASE_URL
  ? ''
  : 'CLAWPORT_TEST_DATABASE_URL is not set: the PostgreSQL tests are skipped (scripts/test.sh starts a cluster and sets it)'

let warned = false
/** Prints, once per file, why PostgreSQL tests are skipped; true when they can run. */
export function havePostgres(): boolean {
  if (!TEST_DATABASE_URL && !warned) {
    warned = true
    process.stderr.write(`\n  skipped: ${PG_SKIP_REASON}\n`)
  }
  return Boolean(TEST_DATABASE_URL)
}

/** A fresh, empty database on the test server; `drop` removes it (connections are cut first). */
export async function freshDatabase(label = 't'): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error(PG_SKIP_REASON)
  const name = `clawport_${label.replace(/\W/g, '_')}_${crypto.randomBytes(4).toString('hex')}`
  await adminQuery(`CREATE DATABASE ${name}`)
  const u = new URL(TEST_DATABASE_URL)
  u.pathname = `/${name}`
  return {
    url: u.toString(),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  }
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}
