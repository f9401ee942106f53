import fs from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../src/config.js'
import { createServices, type Services } from '../../src/core/services.js'
import { buildApp } from '../../src/http/app.js'
import { createLogger } from '../../src/log.js'
import { freshDatabase } from './postgres.js'
import { captureDoor } from './route-matrix.js'
import { TEST_SECRET_KEY, tempDataDir } from './server.js'
import { waitFor } from './wait.js'

/** An in-process app over a temporary store (SQLite, or PostgreSQL: see inProcess), for fast tests through app.inject(). */
export interface InProcess {
  app: FastifyInstance
  services: Services
  dataDir: string
  /** The handler the app serves on every instance's door (see route-matrix.ts's doorClient). */
  doorHandler: ReturnType<typeof captureDoor>
  close(): Promise<void>
  /** A user on a plan with a fresh key. */
  user(email: string, plan?: string): Promise<string>
  inject(
    method: string,
    url: string,
    key?: string | null,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{
    status: number
    body: any
    headers: Record<string, unknown>
  }>
  /** Waits until an instance shows `want` to its owner; an `error` status it did not want ends the wait. */
  waitStatus(key: string, id: string, want: string): Promise<any>
}

export async function inProcess(env: Record<string, string> = {}): Promise<InProcess> {
  const dataDir = tempDataDir('clawport-app-')
  // CLAWPORT_TEST_STORE=postgres: the app's store is a fresh PostgreSQL database instead.
  let dropDatabase: (() => Promise<void>) | undefined
  if (process.env.CLAWPORT_TEST_STORE === 'postgres' && !env.CLAWPORT_DATABASE_URL) {
    const db = await freshDatabase('app')
    env = { CLAWPORT_SECRET_KEY: TEST_SECRET_KEY, ...env, CLAWPORT_DATABASE_URL: db.url }
    dropDatabase = db.drop
  }
  // The host uids of this test lane (vitest.config.ts), so lanes side by side never share one.
  const lane = process.env.CLAWPORT_UID_BASE ? { CLAWPORT_UID_BASE: process.env.CLAWPORT_UID_BASE } : {}
  const config = loadConfig({ ...lane, ...env, CLAWPORT_DATA_DIR: dataDir, CLAWPORT_LOG_LEVEL: 'silent' })
  const log = createLogger('silent')
  const services = await createServices(config, log)
  const doorHandler = captureDoor(services)
  const app = await buildApp(services, log)
  const p: InProcess = {
    app,
    services,
    dataDir,
    doorHandler,
    async close() {
      await app.close()
      await services.close()
      fs.rmSync(dataDir, { recursive: true, force: true })
      await dropDatabase?.()
    },
    async user(email, plan) {
      const u = await services.accounts.createUser({ email, plan })
      return (await services.keys.create(u.id, 'test')).key
    },
    async inject(method, url, key, body, headers = {}) {
      const res = await app.inject({
        method: method as 'GET',
        url,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
        ...(body !== undefined ? { payload: body as object } : {}),
      })
      const isJson = String(res.headers['content-type'] ?? '').includes('json')
      return {
        status: res.statusCode,
        body: isJson && res.body ? res.json() : res.body,
        headers: res.headers,
      }
    },
    waitStatus(key, id, want) {
      return waitFor(
        `instance ${id} to be ${want}`,
        async () => {
          const res = await p.inject('GET', `/api/instances/${id}`, key)
          if (res.body.status === 'error' && want !== 'error')
            throw new Error(`instance failed: ${res.body.error}`)
          return res.body.status === want && res.body
        },
        { timeoutMs: 60_000 },
      )
    },
  }
  return p
}
