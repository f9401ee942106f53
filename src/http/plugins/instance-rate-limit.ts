import type { FastifyInstance } from 'fastify'
import { MemoryRateCounter, type RateCounter } from '../../core/rate-counter.js'
import { errors } from '../../errors.js'

const WINDOW_MS = 60_000
/** The instance routes limited per instance: the ones that make the instance do work. */
const LIMITED = /^\/api\/instances\/:id\/(terminal\/exec|files|chat)(\/|$)/

/**
 * A fixed one-minute window of exec, file and chat requests per instance, on top of the
 * per-key limit, so many keys (or an instance calling itself) cannot overload one instance.
 * The bucket is keyed by caller's user and instance id, not the id alone: a stranger naming
 * someone's instance (answered 404 anyway) never spends its owner's budget. `shared` counts
 * in the store for every replica; without it the counts are this process's.
 */
export function registerInstanceRateLimit(app: FastifyInstance, perMin: number, shared?: RateCounter): void {
  if (perMin <= 0) return
  const windows = shared ?? localCounter(app)
  app.addHook('preHandler', async (request) => {
    const route = request.routeOptions.url
    const id = (request.params as Record<string, unknown> | undefined)?.id
    if (!request.caller || !route || typeof id !== 'string' || !LIMITED.test(route)) return
    const now = Date.now()
    const w = await windows.hit(`instance:${request.caller.user.id}:${id.toLowerCase()}`, WINDOW_MS, now)
    if (w.count > perMin) throw errors.rateLimited(Math.max(1, Math.ceil((w.resetAtMs - now) / 1000)))
  })
}

function localCounter(app: FastifyInstance): RateCounter {
  const counter = new MemoryRateCounter(WINDOW_MS)
  app.addHook('onClose', async () => counter.close())
  return counter
}
