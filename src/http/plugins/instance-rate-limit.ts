import type { FastifyInstance } from 'fastify'
import { errors } from '../../errors.js'

const WINDOW_MS = 60_000
/** The instance routes limited per instance: the ones that make the instance do work. */
const LIMITED = /^\/api\/instances\/:id\/(terminal\/exec|files|chat)(\/|$)/

interface Window {
  count: number
  resetAt: number
}

/**
 * A fixed one-minute window of exec, file and chat requests per instance, on top of the
 * per-key limit, so many keys (or an instance calling itself) cannot overload one instance.
 * The bucket is keyed by caller's user and instance id, not the id alone: a stranger naming
 * someone's instance (answered 404 anyway) never spends its owner's budget.
 */
export function registerInstanceRateLimit(app: FastifyInstance, perMin: number): void {
  if (perMin <= 0) return
  const windows = new Map<string, Window>()
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const [k, w] of windows) if (w.resetAt <= now) windows.delete(k)
  }, WINDOW_MS)
  sweep.unref()
  app.addHook('onClose', async () => clearInterval(sweep))
  app.addHook('preHandler', async (request) => {
    const route = request.routeOptions.url
    const id = (request.params as Record<string, unknown> | undefined)?.id
    if (!request.caller || !route || typeof id !== 'string' || !LIMITED.test(route)) return
    const key = `${request.caller.user.id}:${id.toLowerCase()}`
    const now = Date.now()
    let w = windows.get(key)
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + WINDOW_MS }
      windows.set(key, w)
    }
    w.count++
    if (w.count > perMin) throw errors.rateLimited(Math.max(1, Math.ceil((w.resetAt - now) / 1000)))
  })
}
