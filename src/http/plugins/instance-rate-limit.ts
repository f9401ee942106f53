import type { FastifyInstance, FastifyRequest } from 'fastify'
import { errors } from '../../errors.js'

const WINDOW_MS = 60_000
/** The instance routes limited per instance: the ones that make the instance do work. */
const LIMITED = /^\/api\/instances\/:id\/(terminal\/exec|files|chat)(\/|$)/

/** The bucket of a caller's request on a limited route; undefined for every other request. */
function bucketOf(request: FastifyRequest): string | undefined {
  const route = request.routeOptions.url
  const id = (request.params as Record<string, unknown> | undefined)?.id
  if (!request.caller || !route || typeof id !== 'string' || !LIMITED.test(route)) return undefined
  return `instance:${request.caller.user.id}:${id.toLowerCase()}`
}

/**
 * A fixed one-minute window of exec, file and chat requests per instance, on top of the
 * per-key limit, so many keys (or an instance calling itself) cannot overload one instance.
 * The bucket is keyed by caller's user and instance id, not the id alone: a stranger naming
 * someone's instance (answered 404 anyway) never spends its owner's budget.
 *
 * A limiter of the @fastify/rate-limit registered on `app` for the per-key limit, counting in
 * that registration's store: shared by every replica when that one is, this process's
 * otherwise. It is checked in a hook of its own because the plugin's own hooks run once per
 * request, so a second one would never see a request the per-key limit has counted.
 */
export function registerInstanceRateLimit(app: FastifyInstance, perMin: number): void {
  if (perMin <= 0) return
  const limit = app.createRateLimit({
    max: perMin,
    timeWindow: WINDOW_MS,
    keyGenerator: (request) => bucketOf(request) ?? '',
  })
  app.addHook('preHandler', async (request) => {
    if (!bucketOf(request)) return
    const hit = await limit(request)
    if (!hit.isAllowed && hit.isExceeded) throw errors.rateLimited(Math.max(1, hit.ttlInSeconds))
  })
}
