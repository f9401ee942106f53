import { execFileSync } from 'node:child_process'
import pg from 'pg'
import type { Config } from '../config.js'
import { runnerTokenProblem } from '../runner/auth.js'
import { redactUrl } from '../store/postgres.js'

type Level = 'ok' | 'warn' | 'fail'
interface Check {
  level: Level
  what: string
  fix?: string
}

const TIMEOUT_MS = 5_000

/**
 * What a runner host needs beyond sandboxes: openssl (its certificate), the shared database
 * (reachable, migrated), the shared token, and the control plane its instances call back.
 */
export async function runnerChecks(
  config: Pick<Config, 'store'>,
  token: string | undefined,
  server?: string,
): Promise<Check[]> {
  const checks: Check[] = []
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore', timeout: TIMEOUT_MS })
    checks.push({ level: 'ok', what: 'openssl: the runner makes its TLS certificate with it' })
  } catch {
    checks.push({ level: 'fail', what: 'openssl is missing', fix: 'apt-get install -y openssl' })
  }
  const problem = runnerTokenProblem(token)
  checks.push(
    problem
      ? { level: 'fail', what: problem, fix: 'use the CLAWPORT_RUNNER_TOKEN the control plane has' }
      : { level: 'ok', what: 'runner token set' },
  )
  if (!config.store.databaseUrl) {
    checks.push({
      level: 'fail',
      what: 'CLAWPORT_DATABASE_URL is not set',
      fix: "set it to the control plane's PostgreSQL (postgres://...)",
    })
  } else {
    const pool = new pg.Pool({
      connectionString: config.store.databaseUrl,
      max: 1,
      connectionTimeoutMillis: TIMEOUT_MS,
      query_timeout: TIMEOUT_MS,
    })
    pool.on('error', () => {})
    try {
      const r = await pool.query<{ n: string }>('select count(*) as n from runners')
      checks.push({
        level: 'ok',
        what: `database ${redactUrl(config.store.databaseUrl)} reachable (${r.rows[0]?.n ?? 0} runners registered)`,
      })
    } catch (err) {
      const message = (err as Error).message
      checks.push({
        level: 'fail',
        what: `database ${redactUrl(config.store.databaseUrl)}: ${message}`,
        fix: /relation .*runners/.test(message)
          ? 'start the control plane once on this database: it migrates it'
          : 'check the URL, the password and that this host may connect (pg_hba.conf, firewall)',
      })
    } finally {
      await pool.end().catch(() => {})
    }
  }
  if (server) {
    try {
      const res = await fetch(new URL('/healthz', server), { signal: AbortSignal.timeout(TIMEOUT_MS) })
      checks.push(
        res.ok
          ? { level: 'ok', what: `control plane ${server} answers` }
          : { level: 'fail', what: `control plane ${server} answered ${res.status}`, fix: 'check --server' },
      )
    } catch (err) {
      checks.push({
        level: 'fail',
        what: `control plane ${server} is out of reach: ${(err as Error).message}`,
        fix: "--server must be the URL this host reaches the control plane at (its instances' calls go there)",
      })
    }
  } else {
    checks.push({ level: 'warn', what: 'no --server given: the control plane was not checked' })
  }
  return checks
}
