import { freshDatabase } from './postgres.js'
import { TEST_SECRET_KEY, TestServer, tempDataDir } from './server.js'

const dropByFolder = new Map<string, () => Promise<void>>()

/**
 * Starts `n` real `clawport serve` replicas on one fresh PostgreSQL database and one data
 * folder; the first bootstraps the administrator (and, started alone, leads the host).
 */
export async function replicas(n: number, env: Record<string, string>): Promise<TestServer[]> {
  const db = await freshDatabase('replicas')
  const dataDir = tempDataDir('clawport-replicas-')
  const shared = { ...env, CLAWPORT_DATABASE_URL: db.url, CLAWPORT_SECRET_KEY: TEST_SECRET_KEY }
  const first = await new TestServer(dataDir, { ...shared }).start()
  const rest = await Promise.all(
    Array.from({ length: n - 1 }, () => new TestServer(dataDir, { ...shared }).start()),
  )
  for (const r of rest) r.adminKey = first.adminKey
  dropByFolder.set(dataDir, db.drop)
  return [first, ...rest]
}

/** Stops every replica, then deletes the instances and the folder through the first, then the database. */
export async function teardown(servers: TestServer[]): Promise<void> {
  const [first, ...rest] = servers
  if (!first) return
  for (const r of rest) await r.stop().catch(() => {})
  await first.destroy()
  await dropByFolder.get(first.dataDir)?.()
}
